import Foundation
import InletServer
import Testing

/// A body authenticated only by its writeKey is authenticated before it is parsed: an unknown
/// key costs the server a scan for the key, not a parse of the body.
@Suite struct WriteKeyAuthenticationTests {
    /// About 1.5 MB of messages with a `;` instead of a `,` before the last one, deep in the body:
    /// a full parse refuses the whole body with 400, so a 401 shows the body was never parsed.
    func body(writeKey: String, envelope: Bool) -> String {
        let keyed = #"{"type":"track","userId":"u","event":"E","writeKey":"\#(writeKey)"}"#
        let messages = (0..<9_998).map { _ in Messages.track() }.joined(separator: ",") + ";" + Messages.track()
        return envelope
            ? #"{"writeKey":"\#(writeKey)","batch":["# + messages + "]}"
            : "[" + keyed + "," + messages + "]"
    }

    @Test func anUnknownWriteKeyIsRefusedWithoutParsingTheBody() async throws {
        let harness = try IngestHarness("write_key_first")
        let (tenant, token) = try harness.tenant()
        try await harness.run { client in
            for envelope in [true, false] {
                let refused = try await client.post("/v1/batch", json: body(writeKey: "not-a-key", envelope: envelope))
                #expect(refused.status == 401, "envelope \(envelope): \(refused.body.prefix(200))")
                #expect(refused.json["message"] as? String == "unknown or disabled token")
                // With the tenant's key the same body is parsed, and refused for its syntax.
                let parsed = try await client.post("/v1/batch", json: body(writeKey: token, envelope: envelope))
                #expect(parsed.status == 400, "envelope \(envelope): \(parsed.body.prefix(200))")
            }
        }
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 0)
    }
}
