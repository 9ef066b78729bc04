import InletMessages

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
        switch BasicAuthorization.user(in: value) {
        case .user(let token): return .token(token)
        case .malformed: return .malformed
        }
    }
}
