import Foundation

/// Removes credentials from a JSON value before it is stored (Segment's settings header): no
/// token, key or password may sit in a table (SPEC: tenants hold token hashes, never tokens).
///
/// The rule: a member is a credential when its name, lower-cased with `_`, `-`, `.` and spaces
/// removed, contains one of ``markers`` (`apiKey`, `api_key`, `writeKey`, `X-Write-Key`,
/// `token`, `accessToken`, `refresh_token`, `clientSecret`, `password`, `passwd`,
/// `privateKey`, `authorization`, `credentials`, ...), or is one of ``exactNames`` (`key`,
/// `auth`, `pwd`: too short to look for inside longer names). Such a member is removed whatever its
/// value, at any depth, inside arrays too. The rule errs on the side of removing: a setting
/// that merely looks like a credential (`tokenizer`) is lost, which costs less than a stored
/// secret.
enum CredentialMembers {
    static let markers = [
        "apikey", "writekey", "accesskey", "secretkey", "privatekey", "signingkey", "token", "secret", "password",
        "passwd", "passphrase", "credential", "authorization", "bearer",
    ]
    static let exactNames: Set<String> = ["key", "auth", "pwd", "pass"]

    static func isCredential(_ name: String) -> Bool {
        let folded = String(name.lowercased().unicodeScalars.filter { !"_-. ".unicodeScalars.contains($0) })
        return exactNames.contains(folded) || markers.contains { folded.contains($0) }
    }

    /// `value` (as JSONSerialization produces it) without its credential members.
    static func removed(from value: Any) -> Any {
        if let object = value as? [String: Any] {
            var kept: [String: Any] = [:]
            for (name, member) in object where !isCredential(name) { kept[name] = removed(from: member) }
            return kept
        }
        if let array = value as? [Any] { return array.map(removed(from:)) }
        return value
    }
}
