import Testing

@testable import InletMessages

/// `MessageParser.writeKey(in:)` finds, without parsing the body, the key the full parse derives:
/// the server authenticates with it before it parses.
@Suite struct WriteKeyTests {
    let parser = MessageParser()
    let message = #"{"type":"track","event":"A","userId":"u"}"#

    func prescanned(_ body: String) -> String? { parser.writeKey(in: Array(body.utf8)) }

    /// The prescan agrees with the full parse, and both find `expected`.
    func expectAgreement(_ body: String, _ expected: String?, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let parsed = try parse(body).writeKey
        #expect(parsed == expected, "full parse", sourceLocation: sourceLocation)
        #expect(prescanned(body) == expected, "prescan", sourceLocation: sourceLocation)
    }

    @Test func theEnvelopesKeyWinsWhereverItIs() throws {
        try expectAgreement(#"{"writeKey":"env","batch":[\#(message)]}"#, "env")
        try expectAgreement(#"{"batch":[{"type":"track","event":"A","userId":"u","writeKey":"msg"}],"writeKey":"env"}"#, "env")
        try expectAgreement(#"{"batch":[\#(message)],"writeKey":"wrong","writeKey":"last"}"#, "last")
        try expectAgreement(#"{"batch":[\#(message)],"wri\u0074eKey":"escaped"}"#, "escaped")
        try expectAgreement("\u{FEFF}" + #" {"batch":[],"writeKey":"after a BOM"}"#, "after a BOM")
        try expectAgreement(#"{"batch":[\#(message)],"writeKey":"k\u0000ey"}"#, "key")
    }

    @Test func withoutOneTheFirstWellFormedMessageWithAKeyDecides() throws {
        let keyed = #"{"type":"track","event":"A","userId":"u","writeKey":"msg"}"#
        try expectAgreement(#"{"batch":[\#(message),\#(keyed)]}"#, "msg")
        try expectAgreement("[\(message),\(keyed)]", "msg")
        // A message that is not well-formed JSON gives no key; a later one does.
        try expectAgreement(#"[{"writeKey":"broken","x":[1 2]},\#(keyed)]"#, "msg")
        // A non-string key is none; an invalid message (no userId) still gives its key.
        try expectAgreement(#"[{"type":"track","writeKey":7},{"type":"track","writeKey":"invalid but well-formed"}]"#,
            "invalid but well-formed")
        // Only the last batch array counts.
        try expectAgreement(#"{"batch":[\#(keyed)],"batch":[\#(message)]}"#, nil)
        try expectAgreement(#"{"type":"track","event":"A","userId":"u","writeKey":"single"}"#, "single")
        try expectAgreement(message, nil)
        try expectAgreement("[]", nil)
    }

    @Test func aBodyThatDoesNotParseStillShowsTheKeyBeforeTheBreak() {
        // `;` where a `,` belongs breaks the body itself (a bad element would only be refused).
        let body = #"{"writeKey":"first","batch":["# + String(repeating: message + ",", count: 100) + message + ";" + message + "]}"
        #expect(bodyError(body) != nil)
        #expect(prescanned(body) == "first")
        #expect(prescanned(#"{"writeKey":"cut"#) == nil)
        #expect(prescanned("{not json") == nil)
        #expect(prescanned(#"{"batch":[],"writeKey":42}"#) == nil)
    }
}
