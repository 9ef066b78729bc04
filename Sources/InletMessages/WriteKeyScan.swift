extension MessageParser {
    /// The body's `writeKey`, found without parsing the body: what ``ParsedBatch/writeKey``
    /// would be after a full parse, for every body that parses.
    ///
    /// A body authenticated only by its `writeKey` must be authenticated before it is parsed,
    /// or anyone could make the server parse (and allocate rows for) 8 MiB bodies. For a body
    /// that would not parse, the result is the key found before the body broke, or nil: such a
    /// body is refused either way (401 when that key does not authenticate, else 400).
    public func writeKey(in body: UnsafeRawBufferPointer) -> String? {
        guard let base = body.baseAddress, !body.isEmpty else { return nil }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        // The stack is only used to check the one message whose key is taken (see below).
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: limits.maxDepth + 2) { stack -> String? in
            guard let stackBase = stack.baseAddress else { return nil }
            var scan = WriteKeyScan(
                scanner: JSONScanner(bytes: bytes, count: body.count, maxDepth: limits.maxDepth, stack: stackBase),
                maxMessages: limits.maxMessagesPerBody)
            return scan.bodyKey()
        }
    }

    /// ``writeKey(in:)`` of an array (for tests and tools).
    public func writeKey(in body: [UInt8]) -> String? {
        body.withUnsafeBytes { writeKey(in: $0) }
    }
}

/// A lenient walk over only what decides a body's `writeKey`, mirroring ``ParseRun``'s rules:
///
/// - an envelope (an object with a `batch` member): its own last `writeKey` if it has one (a
///   string; any other value makes the body invalid); else that of the first message of its
///   last `batch` array that is well-formed JSON and has a string `writeKey`;
/// - a single message: its last `writeKey`, if a string;
/// - a bare array: as an envelope's messages.
///
/// Every other value is skipped by bracket matching (``JSONScanner/skipElementLeniently(_:)``),
/// neither validated nor copied. The one message whose key is taken is validated, because the
/// full parse takes a key only from a message it could scan: that is one message, not the body.
struct WriteKeyScan {
    var scanner: JSONScanner
    let maxMessages: Int
    var decodedKey: [UInt8] = []

    var bytes: UnsafePointer<UInt8> { scanner.bytes }

    /// What the walk over one object's top-level members found.
    struct Members {
        enum WriteKey {
            case string(ScannedValue)
            /// Present but not a string: no credential.
            case other
        }
        /// The last `writeKey` member (the last one wins, as in the full parse).
        var writeKey: WriteKey?
        /// A `batch` member was seen: the object is an envelope.
        var isEnvelope = false
        /// Where the last `batch` member's value starts, when it is an array.
        var batchArray: Int?
        /// The walk reached the object's closing brace.
        var complete = false
    }

    mutating func bodyKey() -> String? {
        var i = 0
        // A byte order mark, skipped as the full parse skips it.
        if scanner.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        i = scanner.skipWhitespace(i)
        guard i < scanner.count else { return nil }
        switch bytes[i] {
        case JSONScanner.openBracket:
            return firstMessageKey(inArrayAt: i)
        case JSONScanner.openBrace:
            let members = topLevelMembers(ofObjectAt: i)
            switch members.writeKey {
            case .string(let value): return JSONSanitizer.string(bytes, value)
            case .other: return nil
            case nil:
                guard members.complete, members.isEnvelope, let array = members.batchArray else { return nil }
                return firstMessageKey(inArrayAt: array)
            }
        default:
            return nil
        }
    }

    /// The key of the first element of the array at `start` that is a well-formed message
    /// object with a string `writeKey`.
    private mutating func firstMessageKey(inArrayAt start: Int) -> String? {
        var i = scanner.skipWhitespace(start + 1)
        var index = 0
        // Past `maxMessages` elements the full parse refuses the body, so no key counts.
        while i < scanner.count, index < maxMessages {
            guard let delimiter = scanner.skipElementLeniently(i), delimiter > i else { return nil }
            if bytes[i] == JSONScanner.openBrace, case .string(let value) = topLevelMembers(ofObjectAt: i).writeKey,
                isWellFormedMessage(at: i)
            {
                return JSONSanitizer.string(bytes, value)
            }
            guard bytes[delimiter] == JSONScanner.comma else { return nil }
            i = scanner.skipWhitespace(delimiter + 1)
            index += 1
        }
        return nil
    }

    private mutating func isWellFormedMessage(at start: Int) -> Bool {
        do throws(JSONSyntaxError) {
            _ = try scanner.scanMessage(start, depth: 1)
            return true
        } catch {
            return false
        }
    }

    /// Walks the members of the object at `start` (a `{`), skipping their values.
    private mutating func topLevelMembers(ofObjectAt start: Int) -> Members {
        var members = Members()
        var i = scanner.skipWhitespace(start + 1)
        guard i < scanner.count else { return members }
        if bytes[i] == JSONScanner.closeBrace {
            members.complete = true
            return members
        }
        while i < scanner.count, bytes[i] == JSONScanner.quote {
            scanner.flags = []
            guard let keyEnd = try? scanner.scanString(i) else { return members }
            let key = scanner.memberKey((i + 1)..<(keyEnd - 1), decoded: &decodedKey)
            i = scanner.skipWhitespace(keyEnd)
            guard i < scanner.count, bytes[i] == JSONScanner.colon else { return members }
            i = scanner.skipWhitespace(i + 1)
            guard i < scanner.count else { return members }

            let end: Int
            if key == .writeKey, bytes[i] == JSONScanner.quote {
                // Scanned, not skipped: its flags say whether it must be decoded or repaired.
                scanner.flags = []
                guard let stringEnd = try? scanner.scanString(i) else { return members }
                members.writeKey = .string(ScannedValue(kind: .string, range: (i + 1)..<(stringEnd - 1), flags: scanner.flags))
                end = stringEnd
            } else {
                guard let delimiter = scanner.skipElementLeniently(i), delimiter > i else { return members }
                if key == .writeKey { members.writeKey = .other }
                if key == .batch {
                    members.isEnvelope = true
                    members.batchArray = bytes[i] == JSONScanner.openBracket ? i : nil
                }
                end = delimiter
            }
            i = scanner.skipWhitespace(end)
            guard i < scanner.count else { return members }
            if bytes[i] == JSONScanner.closeBrace {
                members.complete = true
                return members
            }
            guard bytes[i] == JSONScanner.comma else { return members }
            i = scanner.skipWhitespace(i + 1)
        }
        return members
    }
}
