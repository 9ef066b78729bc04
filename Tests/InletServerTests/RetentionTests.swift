import Configuration
import Foundation
import InletServer
import InletTestSupport
import Logging
import PostgresClient
import Testing

/// Retention (issue 12, item 4): `inlet partitions list/prune` and the daily job of `inlet serve`.
@Suite struct RetentionTests {
    /// The months of the message tables in the catalog, `2020-01`...
    static func months(_ db: Connection) throws -> [String] {
        try PartitionCatalog(connection: db).months().map(\.month)
    }

    static func monthText(_ db: Connection, _ sql: String) throws -> String {
        try #require(try db.query("SELECT to_char((\(sql)) AT TIME ZONE 'UTC', 'YYYY-MM')").first?.decode(String.self, at: 0))
    }

    /// A database with the months 2020-01..03, the month 300 days ago, and now to now + 2, one
    /// track in each; 2020-02's tracks left detach pending and 2020-03's identifies detached (as
    /// interrupted prunes leave them).
    static func databaseWithOldMonths(_ label: String) throws -> (url: String, db: Connection, recent: String, current: String) {
        let url = try TestDatabase.createMigrated(label)
        let db = try TestDatabase.connect(url)
        for month in ["2020-01-10", "2020-02-10", "2020-03-10"] {
            try db.query("SELECT inlet.ensure_month_partitions($1::timestamptz)", month)
        }
        try db.query("SELECT inlet.ensure_month_partitions(now() - interval '300 days')")
        try db.query(
            """
            INSERT INTO events.tracks (tenant_id, id, "timestamp", received_at, event, event_text)
            SELECT 1, 'm-' || n, t, now(), 'e', 'e'
            FROM unnest(ARRAY[timestamptz '2020-01-10', '2020-02-10', '2020-03-10', now() - interval '300 days', now()]) WITH ORDINALITY AS u(t, n)
            """)
        // DETACH CONCURRENTLY waits for a reader of the parent; cancelled there, it is left pending.
        let reader = try TestDatabase.connect(url)
        try reader.execute("BEGIN; SELECT count(*) FROM events.tracks")
        let detacher = try TestDatabase.connect(url)
        try detacher.execute("SET statement_timeout = '500ms'")
        #expect(throws: PostgresError.self) {
            try detacher.execute("ALTER TABLE events.tracks DETACH PARTITION events.tracks_y2020m02 CONCURRENTLY")
        }
        try reader.execute("COMMIT")
        try db.execute("ALTER TABLE events.identifies DETACH PARTITION events.identifies_y2020m03")
        let states = try PartitionCatalog(connection: db).partitions().filter { $0.month.hasPrefix("2020-0") && $0.state != .attached }
        #expect(states.map(\.name).sorted() == ["identifies_y2020m03", "tracks_y2020m02"])
        return (url, db, try monthText(db, "now() - interval '300 days'"), try monthText(db, "now()"))
    }

    /// `partitions create` makes a range of months ahead of a Replay: six partitions a month,
    /// nothing for months that exist, and a clear refusal of a month no timestamp is stored in.
    @Test func createMakesTheMonthsOfARangeOnceAndRefusesImplausibleOnes() throws {
        let url = try TestDatabase.createMigrated("create-months")
        let db = try TestDatabase.connect(url)
        let environment = ["DATABASE_URL": url]
        try db.query("SELECT inlet.ensure_month_partitions('2023-02-10')")
        let created = try BuiltProducts.run("inlet", ["partitions", "create", "--from", "2022-11", "--to", "2023-03"], environment: environment)
        #expect(created.status == 0, "\(created.error)")
        #expect(created.output.contains("created 24 partitions for 2022-11 to 2023-03"), "\(created.output)")
        #expect(try Self.months(db).filter { $0 < "2023-04" } == ["2022-11", "2022-12", "2023-01", "2023-02", "2023-03"])
        let again = try BuiltProducts.run("inlet", ["partitions", "create", "--from", "2022-11", "--to", "2023-03"], environment: environment)
        #expect(again.output.contains("created 0 partitions"), "\(again.output)")
        // Up to the current month by default.
        let current = try Self.monthText(db, "now()")
        let upToNow = try BuiltProducts.run("inlet", ["partitions", "create", "--from", current], environment: environment)
        #expect(upToNow.status == 0, "\(upToNow.error)")
        #expect(try Self.months(db).contains(current))
        for bad in [["--from", "1999-12"], ["--from", "2023-13"], ["--from", "2023-5"], ["--from", "2023-04", "--to", "2023-03"]] {
            let refused = try BuiltProducts.run("inlet", ["partitions", "create"] + bad, environment: environment)
            #expect(refused.status != 0 && refused.error.contains("--"), "\(bad): \(refused.output) \(refused.error)")
        }
        #expect(try Self.months(db).filter { $0 < "2023-04" }.count == 5)
    }

    @Test func pruneDropsOnlyMonthsOlderThanTheBoundAndFinishesInterruptedOnes() throws {
        let (url, db, recent, current) = try Self.databaseWithOldMonths("prune")
        let environment = ["DATABASE_URL": url]
        let listed = try BuiltProducts.run("inlet", ["partitions", "list", "--json"], environment: environment)
        #expect(listed.status == 0, "\(listed.error)")
        let months = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]], "\(listed.output)")
        #expect(months.count == 7, "\(listed.output)")
        #expect(months.allSatisfy { ($0["bytes"] as? Int ?? 0) > 0 && ($0["partitions"] as? [Any])?.count == 6 })
        let table = try BuiltProducts.run("inlet", ["partitions", "list"], environment: environment)
        #expect(table.output.contains("2020-02") && table.output.contains("detach-pending") && table.output.contains("KiB"), "\(table.output)")

        let dry = try BuiltProducts.run("inlet", ["partitions", "prune", "--older-than", "400d", "--dry-run"], environment: environment)
        #expect(dry.status == 0, "\(dry.error)")
        #expect(dry.output.contains("would drop 18 partitions: 2020-01, 2020-02, 2020-03"), "\(dry.output)")
        #expect(try Self.months(db).count == 7)

        let pruned = try BuiltProducts.run("inlet", ["partitions", "prune", "--older-than", "400d"], environment: environment)
        #expect(pruned.status == 0, "\(pruned.error)")
        #expect(pruned.output.contains("dropped 18 partitions") && pruned.output.contains("1 left detach pending"), "\(pruned.output)")
        #expect(try Self.months(db).first == recent)
        #expect(try Self.months(db).contains(current))
        #expect(try db.count("events.tracks", tenant: 1) == 2)

        // Even a bound of zero keeps the current month and the ones after it.
        let all = try PartitionPruner(connection: db).prune(olderThan: .zero)
        #expect(all.months == [recent])
        #expect(try Self.months(db).first == current && Self.months(db).count == 3)
        #expect(try db.count("events.tracks", tenant: 1) == 1)
    }

    /// What an interrupted prune left outside a later, longer bound is attached again, not left
    /// refusing rows (and blocking every later detach of its table).
    @Test func monthsLeftDetachedOutsideTheBoundAreAttachedAgain() throws {
        let (_, db, _, _) = try Self.databaseWithOldMonths("prune_strays")
        let outcome = try PartitionPruner(connection: db).prune(olderThan: .seconds(5_000 * 86_400))
        #expect(outcome.partitionsDropped == 0)
        #expect(try PartitionCatalog(connection: db).partitions().allSatisfy { $0.state == .attached })
        #expect(try db.count("events.tracks", tenant: 1) == 5)
        try db.query(
            """
            INSERT INTO events.identifies (tenant_id, id, user_id, "timestamp", received_at) VALUES (1, 'i-2020', 'u', '2020-03-11', now())
            """)
        #expect(try db.count("events.identifies", tenant: 1) == 1)
    }

    /// A month dropped by a prune is created again when a replay brings a message for it.
    @Test func aPrunedMonthIsCreatedAgainForAReplayedMessage() async throws {
        let harness = try IngestHarness("prune_replay")
        let (tenant, token) = try harness.tenant()
        let db = try harness.connect()
        try await harness.run { client in
            let db = try harness.connect()
            #expect(try await client.post("/", json: Messages.track(timestamp: "2020-01-10T00:00:00Z"), token: token).status == 200)
            try PartitionPruner(connection: db).prune(olderThan: .seconds(400 * 86_400))
            #expect(try !Self.months(db).contains("2020-01"))
            let again = try await client.post("/", json: Messages.track(timestamp: "2020-01-11T00:00:00Z"), token: token)
            #expect(again.status == 200, "\(again.body)")
        }
        #expect(try db.count("events.tracks", tenant: tenant) == 1)
    }

    @Test func theDailyJobPrunesMonthsAndTheServiceTablesOncePerDay() async throws {
        let (url, db, recent, _) = try Self.databaseWithOldMonths("retention_job")
        try db.execute(
            """
            INSERT INTO inlet.rejected_messages (tenant_id, rejected_at, reason, raw_message)
            VALUES (1, now() - interval '100 days', 'old', '\\x7b7d'), (1, now() - interval '10 days', 'recent', '\\x7b7d');
            INSERT INTO inlet.tenant_traffic (tenant_id, hour, writer, messages, last_message_at)
            VALUES (1, date_trunc('hour', now() - interval '100 days'), 1, 5, now() - interval '100 days'),
                   (1, date_trunc('hour', now()), 1, 5, now());
            INSERT INTO inlet.delete_requests (tenant_id, message_id, user_id, received_at, requested_at, processed_at)
            VALUES (1, 'old-done', 'u', now() - interval '100 days', now() - interval '100 days', now() - interval '99 days'),
                   (1, 'recent-done', 'u', now(), now(), now()),
                   (1, 'old-pending', 'u', now() - interval '100 days', now() - interval '100 days', NULL);
            """)
        var configuration = RetentionConfiguration()
        configuration.retention = .seconds(400 * 86_400)
        let job = RetentionJob(databaseURL: url, configuration: configuration, logger: Logger(label: "inlet-tests"))
        let outcome = try #require(try await job.runIfDue())
        #expect(outcome.partitions?.months == ["2020-01", "2020-02", "2020-03"])
        #expect(outcome.serviceTables == .init(quarantined: 1, trafficHours: 1, deleteRequests: 1))
        #expect(try Self.months(db).first == recent)
        #expect(try db.query("SELECT reason FROM inlet.rejected_messages").rows.map { try $0.decode(String.self, at: 0) } == ["recent"])
        #expect(try db.count("inlet.tenant_traffic", tenant: 1) == 1)
        #expect(
            try db.query("SELECT message_id FROM inlet.delete_requests ORDER BY 1").rows.map { try $0.decode(String.self, at: 0) }
                == ["old-pending", "recent-done"])
        // Run today already: another instance's check (or this one's next) does nothing.
        #expect(try await job.runIfDue() == nil)
    }

    @Test func durationsReadDays() throws {
        #expect(DurationText.parse("400d") == .seconds(400 * 86_400))
        #expect(DurationText.parse("90m") == .seconds(5_400))
        #expect(DurationText.parse("12") == .seconds(12))
        #expect(DurationText.parse("-1d") == nil && DurationText.parse("d") == nil && DurationText.parse("5w") == nil)
        #expect(DurationText.parse("99999999999999999d") == nil)
        func retention(_ text: String) throws -> Duration? {
            let key = AbsoluteConfigKey(["inlet", "retention"], context: [:])
            return try RetentionConfiguration(reader: ConfigReader(provider: InMemoryProvider(values: [key: .init(.string(text), isSecret: false)]))).retention
        }
        #expect(try retention("400d") == .seconds(400 * 86_400))
        for tooShort in ["0", "0d", "30d"] {
            #expect(throws: DurationText.InvalidDuration.self, "\(tooShort)") { try retention(tooShort) }
        }
    }
}
