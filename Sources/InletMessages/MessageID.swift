import Crypto

/// The `messageId` of a message sent without one.
enum MessageID {
    static let prefix = "inlet-"

    /// "inlet-" and the first 32 hex digits of the SHA-256 of the message's bytes: deterministic,
    /// so an identical message delivered again (a retry) gets the same id and is stored once.
    static func generatedBytes(_ p: UnsafePointer<UInt8>, _ raw: Range<Int>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bufferPointer: UnsafeRawBufferPointer(start: p + raw.lowerBound, count: raw.count))
        let digest = hasher.finalize()
        let hex = Array("0123456789abcdef".utf8)
        var out = Array(prefix.utf8)
        out.reserveCapacity(prefix.utf8.count + 32)
        for byte in digest.prefix(16) {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return out
    }

    static func generated(_ p: UnsafePointer<UInt8>, _ raw: Range<Int>) -> String {
        String(decoding: generatedBytes(p, raw), as: UTF8.self)
    }
}
