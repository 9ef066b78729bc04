/// Header values compared as HTTP compares them: ASCII case-insensitively, blanks around them
/// ignored. Done on the UTF-8 bytes: Foundation's `trimmingCharacters` and `lowercased()` cost a
/// few percent of the CPU of a single-message request (perf, issue 14), and every ingest request
/// reads two such headers.
enum HeaderValue {
    /// `value` without surrounding spaces and tabs, its ASCII letters lowercased.
    static func normalized(_ value: Substring) -> String {
        var bytes = Array(value.utf8)
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { bytes.removeLast() }
        let first = bytes.firstIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? bytes.endIndex
        var lowered = bytes[first...]
        for index in lowered.indices where (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(lowered[index]) {
            lowered[index] |= 0x20
        }
        return String(decoding: lowered, as: UTF8.self)
    }

    /// The media type of a Content-Type (before any `;` parameters), normalized.
    static func mediaType(_ contentType: String) -> String {
        normalized(contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }
}
