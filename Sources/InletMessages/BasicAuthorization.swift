/// Reads the user part of `Authorization: Basic base64(user:password)` (RFC 7617) from the header's
/// bytes.
///
/// Every ingest request carries this header, and single-message requests are the usual shape of a
/// destination's traffic: Foundation's `Data(base64Encoded:)`, `trimmingCharacters` and
/// `String(data:encoding:)` took ~5 % of the server's CPU per request there (perf, issue 14).
/// This is one pass over the bytes and one small allocation.
public enum BasicAuthorization {
    public enum Result: Equatable, Sendable {
        /// Another scheme, or `Basic` followed by anything but base64 of a UTF-8 user part.
        case malformed
        case user(String)
    }

    /// The user part of `value`; the password, after the first `:`, is ignored. The scheme is
    /// matched case-insensitively; blanks around the credentials are allowed; the base64 is the
    /// standard alphabet, its `=` padding optional.
    public static func user(in value: String) -> Result {
        var value = value
        return value.withUTF8 { user(in: $0) }
    }

    static func user(in bytes: UnsafeBufferPointer<UInt8>) -> Result {
        var start = 0
        var end = bytes.count
        while start < end, isBlank(bytes[start]) { start += 1 }
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        let scheme = "basic".utf8
        guard end - start >= scheme.count else { return .malformed }
        for (offset, expected) in scheme.enumerated() where bytes[start + offset] | 0x20 != expected {
            return .malformed
        }
        start += scheme.count
        guard start < end, isBlank(bytes[start]) else { return .malformed }
        while start < end, isBlank(bytes[start]) { start += 1 }
        guard let decoded = decodeBase64(UnsafeBufferPointer(rebasing: bytes[start..<end])) else { return .malformed }
        let user = decoded.prefix { $0 != UInt8(ascii: ":") }
        guard !user.isEmpty, let text = String(validating: user, as: UTF8.self) else { return .malformed }
        return .user(text)
    }

    /// Standard base64 (RFC 4648 §4); trailing `=` padding optional, nothing after it.
    static func decodeBase64(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var count = bytes.count
        var padding = 0
        while count > 0, bytes[count - 1] == UInt8(ascii: "="), padding < 2 {
            count -= 1
            padding += 1
        }
        // A final group of one character cannot hold a byte; padding must complete a group of 4.
        guard count % 4 != 1, padding == 0 || (count + padding) % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for index in 0..<count {
            guard let sextet = sextet(bytes[index]) else { return nil }
            accumulator = accumulator << 6 | UInt32(sextet)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }

    private static func sextet(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
}
