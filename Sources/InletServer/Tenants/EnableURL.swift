import Foundation

/// The Segment "enable" link that connects a tenant's Segment workspace to Inlet:
/// `https://app.segment.com/enable?integration=NAME&settings=S&redirect_url=R`, where `S` is
/// base64 of `{"apiKey":"<token>"}` and `R` base64 of the page Segment returns the user to, each
/// percent-encoded for a query string.
public struct EnableURL: Sendable {
    public static let segmentEnablePage = "https://app.segment.com/enable"

    public let integration: String
    public let token: TenantToken
    public let redirectURL: String?

    public init(integration: String, token: TenantToken, redirectURL: String?) {
        self.integration = integration
        self.token = token
        self.redirectURL = redirectURL
    }

    public var url: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Encoding a [String: String] cannot fail; the fallback only satisfies the type checker.
        let settings = (try? encoder.encode(["apiKey": token.value])) ?? Data()
        var query = "integration=\(Self.percentEncoded(integration))&settings=\(Self.percentEncoded(settings.base64EncodedString()))"
        if let redirectURL {
            query += "&redirect_url=\(Self.percentEncoded(Data(redirectURL.utf8).base64EncodedString()))"
        }
        return "\(Self.segmentEnablePage)?\(query)"
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters, so `+`, `/` and `=` of
    /// base64 survive a query string.
    static func percentEncoded(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}
