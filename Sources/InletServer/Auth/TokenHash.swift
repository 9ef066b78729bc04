import Crypto

/// SHA-256 of a token as four words: a cheap, allocation-free dictionary key.
struct TokenHash: Hashable, Sendable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init(_ digest: some Sequence<UInt8>) {
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in digest.enumerated() where index < 32 {
            words[index / 8] = words[index / 8] << 8 | UInt64(byte)
        }
        (a, b, c, d) = (words[0], words[1], words[2], words[3])
    }

    /// The digest's 32 bytes again, as `inlet.tenant_tokens.token_sha256` holds them.
    var bytes: [UInt8] {
        [a, b, c, d].flatMap { word in (0..<8).reversed().map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
    }

    init(token: String) {
        var token = token
        self = token.withUTF8 { TokenHash(SHA256.hash(data: $0)) }
    }
}
