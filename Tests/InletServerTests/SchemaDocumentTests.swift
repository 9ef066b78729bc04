import Foundation
import InletServer
import InletTestSupport
import PostgresClient
import Testing

/// docs/SCHEMA.md's example queries, read from the document itself and run on generated
/// traffic (sent over HTTP), with the numbers that traffic must give.
@Suite struct SchemaDocumentTests {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/SCHEMA.md")

    /// Each `<!-- example: NAME -->` and the ```sql block after it.
    static func examples() throws -> [String: String] {
        let text = try String(contentsOf: document, encoding: .utf8)
        var found: [String: String] = [:]
        for match in text.matches(of: #/<!-- example: (\w+) -->\n```sql\n((?:.|\n)*?)```/#) {
            found[String(match.output.1)] = String(match.output.2)
        }
        return found
    }

    static func track(_ id: String, _ user: String, _ event: String, _ at: String, _ properties: String = "{}") -> String {
        #"{"type":"track","messageId":"\#(id)","userId":"\#(user)","event":"\#(event)","timestamp":"\#(at)","properties":\#(properties)}"#
    }

    static func page(_ id: String, _ visitor: String, _ at: String) -> String {
        #"{"type":"page","messageId":"\#(id)","anonymousId":"\#(visitor)","name":"Home","timestamp":"\#(at)","properties":{"path":"/"}}"#
    }

    /// November 2026: the 2nd, 9th and 16th are Mondays.
    /// - Signed up: u1 (Nov 2), u2 (Nov 3), u3 (Nov 10), u4 (Nov 11).
    /// - Orders: u1 2 days after signing up, u3 30 minutes after, u2 12 days after (outside 7 days).
    /// - Viewed a product: u5 (never signed up) and u1 on Nov 4, u1 again on Nov 10.
    /// - Pages: visitor a1 at 10:00, 10:10, 10:35, 12:00 (two sessions), a2 at 09:00, 09:45 (two).
    static let traffic: [String] = [
        track("s1", "u1", "Signed Up", "2026-11-02T10:00:00Z"),
        track("s2", "u2", "Signed Up", "2026-11-03T09:00:00Z"),
        track("s3", "u3", "Signed Up", "2026-11-10T08:00:00Z"),
        track("s4", "u4", "Signed Up", "2026-11-11T23:30:00Z"),
        track("o1", "u1", "Order Completed", "2026-11-04T12:00:00Z", #"{"revenue": 30, "coupon": "WINTER"}"#),
        track("o3", "u3", "Order Completed", "2026-11-10T08:30:00Z", #"{"revenue": 12.5}"#),
        track("o2", "u2", "Order Completed", "2026-11-15T09:00:00Z", #"{"revenue": 20, "coupon": "WINTER"}"#),
        track("v1", "u5", "Product Viewed", "2026-11-04T08:00:00Z"),
        track("v2", "u1", "Product Viewed", "2026-11-04T11:00:00Z"),
        track("v3", "u1", "Product Viewed", "2026-11-10T18:00:00Z"),
        page("p1", "a1", "2026-11-02T10:00:00Z"), page("p2", "a1", "2026-11-02T10:10:00Z"),
        page("p3", "a1", "2026-11-02T10:35:00Z"), page("p4", "a1", "2026-11-02T12:00:00Z"),
        page("p5", "a2", "2026-11-03T09:00:00Z"), page("p6", "a2", "2026-11-03T09:45:00Z"),
    ]

    /// What each example returns on `traffic`, row by row, columns joined by `|`.
    static let expected: [String: [String]] = [
        "daily_active_users": [
            "2026-11-02|1", "2026-11-03|1", "2026-11-04|2", "2026-11-10|2", "2026-11-11|1", "2026-11-15|1",
        ],
        "signup_to_order_funnel": ["4|2|50.0"],
        "weekly_retention": [
            "2026-11-02|0|3",  // u1, u2, u5
            "2026-11-02|1|2",  // u1 (Nov 10), u2 (Nov 15)
            "2026-11-09|0|2",  // u3, u4
        ],
        "sessions_from_pages": ["4|6|1.50"],
        "revenue_by_coupon": ["(none)|1|12.5", "WINTER|2|50"],
    ]

    @Test func everyExampleQueryGivesItsDocumentedNumbers() async throws {
        let examples = try Self.examples()
        #expect(Set(examples.keys) == Set(Self.expected.keys), "the document's examples and this test's answers differ")
        let harness = try IngestHarness("schema_doc")
        let shop = try harness.tenant("Shop")
        let other = try harness.tenant("Other Shop")
        try await harness.run { client async throws in
            #expect(try await client.post("/", json: Messages.array(Self.traffic), token: shop.token).status == 200)
            // Another tenant's identical traffic must change none of the numbers.
            #expect(try await client.post("/", json: Messages.array(Self.traffic), token: other.token).status == 200)
        }
        let connection = try harness.connect()
        _ = try BIRefresh(connection: connection).refreshAll()
        // As the analyst runs them: logged in as the tenant's BI role, with its search path.
        let role = try BIRoleStore(connection: connection).grant(tenant: shop.id).role
        var login = try #require(URLComponents(string: harness.databaseURL))
        login.user = role
        let analyst = try TestDatabase.connect(try #require(login.string))
        for (name, sql) in examples.sorted(by: { $0.key < $1.key }) {
            let rows = try analyst.query(sql).rows.map { $0.values.map { $0 ?? "NULL" }.joined(separator: "|") }
            #expect(rows == Self.expected[name], "\(name)")
        }
    }
}
