import Crypto
import Foundation

/// A tenant's secret: 256 random bits, URL-safe base64 without padding (43 characters).
///
/// Only its SHA-256 is stored. A fast hash is right here (unlike for passwords): the token has
/// 256 bits of entropy, so there is nothing to brute-force, and every request is checked.
public struct TenantToken: Sendable, Hashable {
    public let value: String

    public init(value: String) { self.value = value }

    /// A new token from the system's cryptographically secure generator.
    public static func generate() -> TenantToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return TenantToken(value: base64URL(bytes))
    }

    /// SHA-256 of the token's UTF-8 bytes, as stored in `inlet.tenant_tokens.token_sha256`.
    public var sha256: [UInt8] { Array(SHA256.hash(data: Data(value.utf8))) }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
