import InletTestSupport
import PostgresClient
import Testing

@Suite struct ConnectionTests {
    @Test func parametersAndResultsAreTyped() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        let time = Timestamp(.init(year: 2031, month: 7, day: 4, hour: 12, minute: 30, second: 1, microsecond: 7))
        let row = try #require(
            try connection.query(
                "SELECT $1::int8, $2::bool, $3::text, $4::timestamptz, $5::text, $6::bytea, 2.5::float8",
                Int64(-9_000_000_000), true, "it's \"quoted\" ; DROP TABLE x; --", time, nil, ByteaValue([1, 2, 3])
            ).first)
        #expect(try row.decode(Int64.self, at: 0) == -9_000_000_000)
        #expect(try row.decode(Bool.self, at: 1))
        #expect(try row.decode(String.self, at: 2) == "it's \"quoted\" ; DROP TABLE x; --")
        #expect(try row.decode(Timestamp.self, at: 3) == time)
        #expect(try row.decode(String?.self, at: 4) == nil)
        #expect(try row.decode(ByteaValue.self, at: 5) == ByteaValue([1, 2, 3]))
        #expect(try row.decode(Double.self, at: 6) == 2.5)
        #expect(throws: PostgresError.self) { try row.decode(Int64.self, at: 4) }  // NULL into non-optional
    }

    @Test func serverErrorsCarrySQLStateMessageAndPosition() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        try connection.execute("CREATE TEMP TABLE unique_things (id int8 PRIMARY KEY)")
        try connection.query("INSERT INTO unique_things VALUES ($1)", 1)
        let duplicate = try #require(throws: PostgresError.self) {
            try connection.query("INSERT INTO unique_things VALUES ($1)", 1)
        }
        #expect(duplicate.sqlState == SQLState.uniqueViolation)
        #expect(duplicate.message.contains("duplicate key"))
        #expect(duplicate.detail?.contains("(id)=(1)") == true)

        let syntax = try #require(throws: PostgresError.self) { try connection.query("SELECT 1 FROM WHERE") }
        #expect(syntax.sqlState == SQLState.syntaxError)
        #expect(syntax.position == 15)
        #expect(connection.isHealthy)
    }

    @Test func transactionCommitsOrRollsBack() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        try connection.execute("CREATE TEMP TABLE ledger (n int8)")
        _ = try connection.transaction { try connection.query("INSERT INTO ledger VALUES (1)") }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try connection.transaction {
                try connection.query("INSERT INTO ledger VALUES (2)")
                throw Boom()
            }
        }
        // A statement error swallowed inside the body still must not look committed.
        #expect(throws: PostgresError.self) {
            try connection.transaction {
                try connection.query("INSERT INTO ledger VALUES (3)")
                _ = try? connection.query("SELECT 1/0")
            }
        }
        let values = try connection.query("SELECT n FROM ledger ORDER BY n").rows.map { try $0.decode(Int64.self, at: 0) }
        #expect(values == [1])
    }

    @Test func unreachableServerIsAConnectionError() throws {
        let error = try #require(throws: PostgresError.self) {
            try Connection(url: "postgresql://nobody@127.0.0.1:1/none", connectTimeout: 2)
        }
        #expect(error.kind == .connection)
        #expect(error.isConnectionFailure)
        #expect(!error.message.isEmpty)
    }

    @Test func identifiersAreQuoted() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        #expect(try connection.escapeIdentifier("odd \"name\"") == "\"odd \"\"name\"\"\"")
    }
}
