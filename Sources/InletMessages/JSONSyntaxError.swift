/// Where and why bytes are not the JSON Inlet accepts.
struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Reason: Hashable, Sendable {
        case unexpectedCharacter
        case unexpectedEnd
        case unterminatedString
        case invalidEscape
        case invalidNumber
        case invalidLiteral
        case trailingCharacters
        case tooDeep(limit: Int)
    }

    var reason: Reason
    /// Offset in the request body, counted from 0.
    var offset: Int

    init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    var isTooDeep: Bool {
        if case .tooDeep = reason { return true }
        return false
    }

    var description: String {
        switch reason {
        case .unexpectedCharacter: "unexpected character at byte \(offset)"
        case .unexpectedEnd: "unexpected end of the JSON text at byte \(offset)"
        case .unterminatedString: "unterminated string starting at byte \(offset)"
        case .invalidEscape: "invalid escape sequence at byte \(offset)"
        case .invalidNumber: "invalid number at byte \(offset)"
        case .invalidLiteral: "invalid literal at byte \(offset) (expected true, false or null)"
        case .trailingCharacters: "unexpected character after the JSON value at byte \(offset)"
        case .tooDeep(let limit): "nested deeper than \(limit) levels at byte \(offset)"
        }
    }
}
