import Foundation
import InletTestSupport
import PostgresClient
import Synchronization
import Testing

@Suite struct PartitionFunctionTests {
    func partitions(_ connection: Connection, suffix: String) throws -> [String] {
        try connection.query(
            "SELECT relname FROM pg_class WHERE relnamespace = 'events'::regnamespace AND relname LIKE '%' || $1 ORDER BY 1",
            suffix
        ).rows.map { try $0.decode(String.self, at: 0) }
    }

    @Test func aReplayedMonthFrom2019GetsItsPartitionsOnce() throws {
        let connection = try TestDatabase.connect(try TestDatabase.createMigrated("partitions"))
        let march2019 = Timestamp(.init(year: 2019, month: 3, day: 10, hour: 8))

        // Before: no partition holds the row.
        let missing = try #require(throws: PostgresError.self) {
            try connection.query(
                "INSERT INTO events.tracks (tenant_id, id, timestamp, received_at, event, event_text) VALUES (1, 'm1', $1, now(), 'a', 'A')",
                march2019)
        }
        #expect(missing.sqlState == SQLState.noPartitionForRow)

        #expect(try connection.query("SELECT inlet.ensure_month_partitions($1)", march2019).first?.decode(Int.self, at: 0) == 6)
        #expect(try connection.query("SELECT inlet.ensure_month_partitions($1)", march2019).first?.decode(Int.self, at: 0) == 0)
        #expect(
            try partitions(connection, suffix: "_y2019m03")
                == ["aliases_y2019m03", "groups_y2019m03", "identifies_y2019m03", "pages_y2019m03", "screens_y2019m03", "tracks_y2019m03"])

        // Bounds are whole UTC months, whatever the session's time zone.
        try connection.execute("SET TimeZone TO 'America/Los_Angeles'")
        let bound = try connection.query(
            "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE oid = 'events.tracks_y2019m03'::regclass"
        ).first?.decode(String.self, at: 0)
        try connection.execute("SET TimeZone TO 'UTC'")
        #expect(bound == "FOR VALUES FROM ('2019-02-28 16:00:00-08') TO ('2019-03-31 17:00:00-07')")

        try connection.query(
            "INSERT INTO events.tracks (tenant_id, id, timestamp, received_at, event, event_text) VALUES (1, 'm1', $1, now(), 'a', 'A')",
            march2019)
        let stored = try connection.query("SELECT tableoid::regclass::text FROM events.tracks WHERE id = 'm1'").first
        #expect(try stored?.decode(String.self, at: 0) == "events.tracks_y2019m03")
    }

    @Test func concurrentCallsFromTwoConnectionsBothSucceed() throws {
        let url = try TestDatabase.createMigrated("partitions_concurrent")
        let month = Timestamp(.init(year: 2031, month: 7, day: 1))
        // Two threads, two connections; each call holds its transaction open a moment so that
        // the two overlap.
        let results = Mutex<[Result<Int, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let result = Result {
                let connection = try TestDatabase.connect(url)
                return try connection.transaction {
                    let count = try connection.query("SELECT inlet.ensure_month_partitions($1)", month).first?.decode(Int.self, at: 0)
                    try connection.query("SELECT pg_sleep(0.3)")
                    return count ?? -1
                }
            }
            results.withLock { $0.append(result) }
        }
        let created = try results.withLock { try $0.map { try $0.get() } }
        #expect(created.sorted() == [0, 6])
        #expect(try partitions(TestDatabase.connect(url), suffix: "_y2031m07").count == 6)
    }
}
