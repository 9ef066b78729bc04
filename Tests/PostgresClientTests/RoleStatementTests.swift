import InletTestSupport
import PostgresClient
import Testing

@Suite struct RoleStatementTests {
    @Test func anEscapedLiteralReadsBackAsTheSameText() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        for text in ["plain", "it's", #"back\slash \' and ''"#, "$$ dollar $tag$", "émoji 🎉", ""] {
            let quoted = try connection.escapeLiteral(text)
            #expect(try connection.query("SELECT \(quoted)::text").first?.decode(String.self, at: 0) == text, "\(quoted)")
        }
    }

    @Test func aPasswordIsHashedOnTheClientAsTheServerAsks() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        let hash = try connection.passwordHash("correct horse battery staple", role: "someone")
        #expect(try connection.query("SHOW password_encryption").first?.decode(String.self, at: 0) == "scram-sha-256")
        #expect(hash.hasPrefix("SCRAM-SHA-256$4096:"))
        #expect(!hash.contains("correct horse"))
        #expect(try connection.passwordHash("correct horse battery staple", role: "someone") != hash, "a fresh salt each time")
    }
}
