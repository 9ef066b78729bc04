import Foundation

/// Reads the tenant token from `Authorization: Basic base64(token:)`.
enum Credentials {
    enum HeaderResult: Equatable {
        case none
        case token(String)
        case malformed
    }

    /// The token in an `Authorization` header value; the password part is ignored (SPEC).
    static func token(fromAuthorization value: String?) -> HeaderResult {
        guard let value else { return .none }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8)
        else { return .malformed }
        let token = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return token.isEmpty ? .malformed : .token(token)
    }
}
