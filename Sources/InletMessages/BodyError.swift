/// Why a request body as a whole was refused (answered 400): it is not JSON, not a message, an
/// array of messages or a batch envelope, or it holds too many messages.
///
/// A struct around a private enum, so cases can be added without breaking callers.
public struct BodyError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case syntax(JSONSyntaxError)
        case notAMessageBody
        case batchNotAnArray
        case envelopeMember(name: String, expected: String)
        case tooManyMessages(limit: Int)
    }

    let kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    /// A sentence for the `message` of the 400 answer.
    public var description: String {
        switch kind {
        case .syntax(let error):
            "body is not valid JSON: \(error)"
        case .notAMessageBody:
            #"body must be a message object, an array of messages or {"batch": [...]}"#
        case .batchNotAnArray:
            #""batch" must be an array of messages"#
        case .envelopeMember(let name, let expected):
            "the batch's \"\(name)\" must be \(expected)"
        case .tooManyMessages(let limit):
            "more than \(limit) messages in one body"
        }
    }

    /// True when the body was not well-formed JSON (as opposed to JSON of the wrong shape).
    public var isSyntaxError: Bool {
        if case .syntax = kind { return true }
        return false
    }
}
