import Foundation
import Testing

@testable import InletMessages

/// The `Authorization: Basic` reader every ingest request goes through (a byte scanner in place of
/// Foundation's base64 and string trimming).
struct BasicAuthorizationTests {
    static func basic(_ credentials: some Sequence<UInt8>, padded: Bool = true) -> String {
        var encoded = Data(credentials).base64EncodedString()
        if !padded { encoded = String(encoded.prefix { $0 != "=" }) }
        return "Basic " + encoded
    }

    @Test func decodesWhatFoundationEncodesPaddedOrNot() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for padded in [true, false] {
                var encoded = Array(Data(bytes).base64EncodedString().utf8)
                if !padded { encoded.removeAll { $0 == UInt8(ascii: "=") } }
                let decoded = encoded.withUnsafeBufferPointer { BasicAuthorization.decodeBase64($0) }
                #expect(decoded == bytes, "length \(length), padded \(padded)")
            }
        }
    }

    @Test func refusesWhatIsNotBase64() {
        for text in ["%%%", "abcde", "ab=c", "====", "Zm9v=", "Zg=", "Zg===", "Zm9v YmFy", "Zm9v\u{00E9}"] {
            let decoded = Array(text.utf8).withUnsafeBufferPointer { BasicAuthorization.decodeBase64($0) }
            #expect(decoded == nil, "\(text)")
        }
    }

    @Test func readsTheUserPartAndIgnoresThePassword() {
        #expect(BasicAuthorization.user(in: Self.basic("token:".utf8)) == .user("token"))
        #expect(BasicAuthorization.user(in: Self.basic("token:".utf8, padded: false)) == .user("token"))
        #expect(BasicAuthorization.user(in: Self.basic("token:secret:more".utf8)) == .user("token"))
        #expect(BasicAuthorization.user(in: Self.basic("token".utf8)) == .user("token"))
        #expect(BasicAuthorization.user(in: Self.basic("tökén:".utf8)) == .user("tökén"))
        #expect(BasicAuthorization.user(in: "  bAsIc \t dG9rZW46  ") == .user("token"))
    }

    @Test func anythingElseIsMalformed() {
        let refused = [
            "", "Basic", "Basic ", "Basicdg==", "Bearer dG9rZW46", "Basi dG9rZW46", "Basic %%%", "Basic !!!",
            Self.basic(":password".utf8), Self.basic("".utf8), Self.basic([0xFF, 0xFE, UInt8(ascii: ":")]),
        ]
        for value in refused {
            #expect(BasicAuthorization.user(in: value) == .malformed, "\(value)")
        }
    }
}
