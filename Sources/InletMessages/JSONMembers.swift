/// Looks up a member of an already validated object without parsing it into anything.
enum JSONMembers {
    /// The value of the last member named `name` (an exact, unescaped key) among the members in
    /// `range` (the bytes between an object's braces), or nil. Last, because jsonb keeps the
    /// last of duplicate keys.
    static func lastValue(named name: StaticString, in p: UnsafePointer<UInt8>, _ range: Range<Int>) -> Range<Int>? {
        // Only the scanner's bracket-matching helpers are used, which never touch its stack.
        let scanner = JSONScanner(bytes: p, count: range.upperBound, maxDepth: 0, stack: UnsafeMutablePointer(mutating: p))
        var found: Range<Int>?
        var i = scanner.skipWhitespace(range.lowerBound)
        while i < range.upperBound, p[i] == JSONScanner.quote {
            let keyStart = i + 1
            var keyEnd = keyStart
            while keyEnd < range.upperBound, p[keyEnd] != JSONScanner.quote {
                keyEnd += p[keyEnd] == JSONScanner.backslash ? 2 : 1
            }
            let isName =
                keyEnd - keyStart == name.utf8CodeUnitCount
                && (0..<name.utf8CodeUnitCount).allSatisfy { p[keyStart + $0] == name.utf8Start[$0] }
            i = scanner.skipWhitespace(keyEnd + 1)
            guard i < range.upperBound, p[i] == JSONScanner.colon else { return found }
            let valueStart = scanner.skipWhitespace(i + 1)
            let delimiter = scanner.skipElementLeniently(valueStart) ?? range.upperBound
            if isName { found = scanner.trimmingTrailingWhitespace(valueStart..<delimiter) }
            guard delimiter < range.upperBound, p[delimiter] == JSONScanner.comma else { return found }
            i = scanner.skipWhitespace(delimiter + 1)
        }
        return found
    }
}
