import Foundation
import InletSchema
import InletTestSupport
import PostgresClient
import Testing

@Suite struct MigratorTests {
    /// A folder of migration files for one test.
    func migrationFolder(_ files: [String: String]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appending(path: "inlet-migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, contents) in files {
            try Data(contents.utf8).write(to: folder.appending(path: name))
        }
        return folder
    }

    func history(_ connection: Connection) throws -> [Int] {
        try connection.query("SELECT version FROM inlet.schema_migrations ORDER BY version").rows.map {
            try $0.decode(Int.self, at: 0)
        }
    }

    @Test func freshUpAppliesEveryMigrationAndCreatesTheSchema() throws {
        let connection = try TestDatabase.connect(try TestDatabase.createEmpty("fresh"))
        let set = try MigrationSet.embedded()
        let applied = try Migrator(migrations: set).up(on: connection)
        #expect(applied.map(\.version) == set.migrations.map(\.version))
        #expect(try history(connection) == set.migrations.map(\.version))
        #expect(try set.isApplied(on: connection))

        let partitioned = try connection.query(
            """
            SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'events' ORDER BY 1
            """
        ).rows.map { try $0.decode(String.self, at: 0) }
        #expect(partitioned == ["aliases", "groups", "identifies", "pages", "screens", "tracks"])
        for table in ["inlet.tenants", "inlet.tenant_tokens", "inlet.rejected_messages", "events.users", "events.accounts"] {
            #expect(try connection.query("SELECT to_regclass($1) IS NOT NULL", table).first?.decode(Bool.self, at: 0) == true)
        }
        // This month and the two after it exist for every table: 6 × 3 partitions.
        let partitions = try connection.query(
            """
            SELECT count(*) FROM pg_inherits i JOIN pg_class child ON child.oid = i.inhrelid
            WHERE child.relnamespace = 'events'::regnamespace AND child.relkind = 'r'
            """
        ).first?.decode(Int.self, at: 0)
        #expect(partitions == 18)
        // Every key of the message tables starts with tenant_id.
        let keys = try connection.query(
            """
            SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'events' AND c.relkind = 'p' AND (x.indisunique OR x.indisprimary)
            """
        ).rows.map { try $0.decode(String.self, at: 0) }
        #expect(keys.count == 6)
        #expect(keys.allSatisfy { $0.contains("(tenant_id, \"timestamp\", id)") })
    }

    @Test func upAgainIsANoOp() throws {
        let connection = try TestDatabase.connect(try TestDatabase.createEmpty("noop"))
        let migrator = try Migrator(migrations: .embedded())
        try migrator.up(on: connection)
        let before = try connection.query("SELECT version, applied_at FROM inlet.schema_migrations ORDER BY 1").rows.map(\.values)
        #expect(try migrator.up(on: connection).isEmpty)
        let after = try connection.query("SELECT version, applied_at FROM inlet.schema_migrations ORDER BY 1").rows.map(\.values)
        #expect(before == after)
    }

    @Test func twoConcurrentUpProcessesApplyEachMigrationOnce() throws {
        let url = try TestDatabase.createEmpty("concurrent")
        let first = try BuiltProducts.start("migrator", ["up", "--database-url", url])
        let second = try BuiltProducts.start("migrator", ["up", "--database-url", url])
        let outcomes = [BuiltProducts.wait(first), BuiltProducts.wait(second)]
        for outcome in outcomes {
            #expect(outcome.status == 0, "\(outcome.output) \(outcome.error)")
        }
        let connection = try TestDatabase.connect(url)
        let counts = try connection.query("SELECT version, count(*) FROM inlet.schema_migrations GROUP BY version ORDER BY 1")
            .rows.map { (try $0.decode(Int.self, at: 0), try $0.decode(Int.self, at: 1)) }
        let set = try MigrationSet.embedded()
        #expect(counts.map(\.0) == set.migrations.map(\.version))
        #expect(counts.allSatisfy { $0.1 == 1 })
        // Exactly one of the two did the work.
        #expect(outcomes.filter { $0.output.contains("migration(s)") }.count == 1)
    }

    @Test func anAppliedFileThatChangedIsRefusedByName() throws {
        let connection = try TestDatabase.connect(try TestDatabase.createEmpty("drift"))
        let original = try migrationFolder(["V0001__things.sql": "CREATE TABLE things (id int);\n"])
        try Migrator(migrations: .load(directory: original)).up(on: connection)

        let edited = try migrationFolder([
            "V0001__things.sql": "CREATE TABLE things (id int, name text);\n",
            "V0002__more.sql": "CREATE TABLE more_things (id int);\n",
        ])
        let error = try #require(throws: MigrationError.self) {
            try Migrator(migrations: .load(directory: edited)).up(on: connection)
        }
        #expect(error.isChecksumMismatch)
        #expect(error.description.contains("V0001__things.sql"))
        // Nothing after the drift was applied.
        #expect(try history(connection) == [1])

        let status = try Migrator(migrations: .load(directory: edited)).status(on: connection)
        #expect(status.map(\.version) == [1, 2])
        if case .checksumChanged = status[0].state {} else { Issue.record("V0001 should show a changed checksum") }
        #expect(status[1].state == .pending)

        // CRLF line endings are not a change.
        let crlf = try migrationFolder(["V0001__things.sql": "CREATE TABLE things (id int);\r\n"])
        #expect(try Migrator(migrations: .load(directory: crlf)).up(on: connection).isEmpty)
    }

    @Test func aBrokenMigrationLeavesNoPartialChangeAndNamesFileAndLine() throws {
        let url = try TestDatabase.createEmpty("broken")
        let folder = try migrationFolder([
            "V0001__good.sql": "CREATE TABLE good (id int);\n",
            "V0002__broken.sql": "CREATE TABLE half_done (id int);\nINSERT INTO half_done VALUES (1);\nCREATE TABLE oops (id int,);\n",
        ])
        let connection = try TestDatabase.connect(url)
        let error = try #require(throws: MigrationError.self) {
            try Migrator(migrations: .load(directory: folder)).up(on: connection)
        }
        #expect(error.description.contains("V0002__broken.sql line 3"))
        #expect(error.description.contains("syntax error"))
        #expect(try history(connection) == [1])
        #expect(try connection.query("SELECT to_regclass('half_done') IS NULL").first?.decode(Bool.self, at: 0) == true)

        // The command line says the same and exits non-zero.
        let outcome = try BuiltProducts.run("migrator", ["up", "--database-url", url, "--sql-dir", folder.path])
        #expect(outcome.status != 0)
        #expect(outcome.error.contains("V0002__broken.sql"))
    }

    @Test func statusListsAppliedAndPending() throws {
        let url = try TestDatabase.createEmpty("status")
        let connection = try TestDatabase.connect(url)
        let first = try migrationFolder(["V0001__one.sql": "CREATE TABLE one (id int);"])
        try Migrator(migrations: .load(directory: first)).up(on: connection)
        let both = try migrationFolder([
            "V0001__one.sql": "CREATE TABLE one (id int);",
            "V0002__two.sql": "-- inlet:no-transaction\nCREATE INDEX CONCURRENTLY one_id ON one (id);",
        ])
        let status = try Migrator(migrations: .load(directory: both)).status(on: connection)
        if case .applied(let record) = status[0].state { #expect(record.name == "one") } else { Issue.record("V0001 applied") }
        #expect(status[1].state == .pending)

        let printed = try BuiltProducts.run("migrator", ["status", "--database-url", url, "--sql-dir", both.path])
        #expect(printed.status == 0)
        #expect(printed.output.contains("V0002    pending"))

        // The no-transaction file (CREATE INDEX CONCURRENTLY cannot run in a transaction) applies.
        #expect(try Migrator(migrations: .load(directory: both)).up(on: connection).map(\.version) == [2])
    }

    @Test func badFileNamesAndDuplicateVersionsAreRefused() throws {
        #expect(throws: MigrationError.self) {
            try MigrationSet.load(directory: try migrationFolder(["0001_no_prefix.sql": "SELECT 1;"]))
        }
        #expect(throws: MigrationError.self) {
            try MigrationSet.load(directory: try migrationFolder(["V1__a.sql": "SELECT 1;", "V0001__b.sql": "SELECT 1;"]))
        }
    }

    @Test func missingDatabaseURLIsAClearError() throws {
        let outcome = try BuiltProducts.run("migrator", ["up"], environment: ["DATABASE_URL": ""])
        #expect(outcome.status != 0)
        #expect(outcome.error.contains("DATABASE_URL"))
    }
}
