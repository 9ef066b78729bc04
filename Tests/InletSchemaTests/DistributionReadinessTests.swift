import Foundation
import InletTestSupport
import PostgresClient
import Testing

/// The schema stays ready for a distributed PostgreSQL (Citus) with `tenant_id` as the
/// distribution column: read from the catalog of a migrated database, so a migration that
/// breaks a rule fails here, not on the day the tables move. docs/SCALING.md explains each
/// rule, and its distribution script must name every table as this test classifies it.
@Suite struct DistributionReadinessTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Small tables every node needs whole (Citus reference tables). Every other table is
    /// distributed by `tenant_id`.
    static let referenceTables: Set<String> = [
        "inlet.schema_migrations", "inlet.tenants", "inlet.tenant_tokens", "inlet.tenant_audit", "inlet.bi_roles",
        "inlet.daily_jobs",
    ]
    static let schemas = "('inlet', 'events')"

    /// Tables (not their partitions) of Inlet's schemas.
    static func tables(_ db: Connection) throws -> [String] {
        try db.query(
            """
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN \(schemas) AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1
            """
        ).rows.map { try $0.decode(String.self, at: 0) }
    }

    @Test func everyTableIsDistributedByTenantOrAReferenceTable() throws {
        let db = try TestDatabase.connect(try TestDatabase.createMigrated("distribution_tables"))
        let tables = try Self.tables(db)
        #expect(Self.referenceTables.isSubset(of: Set(tables)), "\(Self.referenceTables.subtracting(tables)) no longer exist")
        let withoutTenant = try db.query(
            """
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN \(Self.schemas) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnotnull)
            """
        ).rows.map { try $0.decode(String.self, at: 0) }
        let unclassified = Set(withoutTenant).subtracting(Self.referenceTables)
        #expect(unclassified.isEmpty, "tables with neither a NOT NULL tenant_id nor a place among the reference tables: \(unclassified)")
    }

    @Test func everyUniqueKeyOfADistributedTableIncludesTheTenant() throws {
        let db = try TestDatabase.connect(try TestDatabase.createMigrated("distribution_keys"))
        // Unique indexes cover primary keys, unique constraints and plain unique indexes;
        // exclusion constraints cannot be enforced across nodes at all.
        let offending = try db.query(
            """
            SELECT format('%I.%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid) FROM pg_index i
            JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN \(Self.schemas) AND NOT c.relispartition AND c.relkind IN ('r', 'p')
              AND (i.indisunique OR i.indisexclusion)
              AND NOT EXISTS (
                SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnum = ANY (i.indkey))
            """
        ).rows.map { "\(try $0.decode(String.self, at: 0)): \(try $0.decode(String.self, at: 1))" }
        let distributed = offending.filter { entry in !Self.referenceTables.contains { entry.hasPrefix($0 + ":") } }
        #expect(distributed.isEmpty, "unique keys of distributed tables without tenant_id: \(distributed)")
    }

    @Test func foreignKeysFollowTheDistribution() throws {
        let db = try TestDatabase.connect(try TestDatabase.createMigrated("distribution_foreign_keys"))
        let keys = try db.query(
            """
            SELECT (SELECT format('%I.%I', ns.nspname, k.relname) FROM pg_class k JOIN pg_namespace ns ON ns.oid = k.relnamespace WHERE k.oid = conrelid),
                   (SELECT format('%I.%I', ns.nspname, k.relname) FROM pg_class k JOIN pg_namespace ns ON ns.oid = k.relnamespace WHERE k.oid = confrelid),
                   pg_get_constraintdef(oid),
                   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = conrelid AND a.attname = 'tenant_id' AND a.attnum = ANY (conkey)),
                   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = confrelid AND a.attname = 'tenant_id' AND a.attnum = ANY (confkey))
            FROM pg_constraint WHERE contype = 'f'
              AND connamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN \(Self.schemas))
              AND conrelid IN (SELECT oid FROM pg_class WHERE NOT relispartition)
            """)
        #expect(!keys.rows.isEmpty)
        for key in keys.rows {
            let (from, to, definition) = (try key.decode(String.self, at: 0), try key.decode(String.self, at: 1), try key.decode(String.self, at: 2))
            let (fromIncludesTenant, toIncludesTenant) = (try key.decode(Bool.self, at: 3), try key.decode(Bool.self, at: 4))
            switch (Self.referenceTables.contains(from), Self.referenceTables.contains(to)) {
            case (true, false):
                Issue.record("a reference table cannot point at a distributed one: \(from) \(definition)")
            case (false, false):
                #expect(fromIncludesTenant && toIncludesTenant, "keys between distributed tables must include tenant_id: \(from) \(definition)")
            default:
                break  // to a reference table: every node has all of it
            }
        }
    }

    @Test func distributedTablesHaveNoTriggersAndOnlyBigintSequences() throws {
        let db = try TestDatabase.connect(try TestDatabase.createMigrated("distribution_triggers"))
        let triggers = try db.query(
            """
            SELECT format('%I.%I', n.nspname, c.relname) || ' ' || tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname IN \(Self.schemas)
            """
        ).rows.map { try $0.decode(String.self, at: 0) }
        // Citus runs triggers of distributed tables on the shards only with
        // citus.enable_unsafe_triggers; on reference tables they are fine.
        let onDistributed = triggers.filter { trigger in !Self.referenceTables.contains { trigger.hasPrefix($0 + " ") } }
        #expect(onDistributed.isEmpty, "\(onDistributed)")

        let sequences = try db.query(
            """
            SELECT format('%I.%I', n.nspname, c.relname) || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE n.nspname IN \(Self.schemas) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%')
            """
        ).rows.map { try $0.decode(String.self, at: 0) }
        #expect(!sequences.isEmpty)
        // Citus gives each node its own range of a sequence, which needs bigint.
        #expect(sequences.allSatisfy { $0.hasSuffix(" bigint") }, "\(sequences)")
    }

    /// `xmin`, `ctid` and their kin name a row version on one node: on another node the same
    /// values mean other rows, or nothing.
    @Test func nothingReadsSystemColumnsThatOnlyMeanSomethingOnOneNode() throws {
        let db = try TestDatabase.connect(try TestDatabase.createMigrated("distribution_system_columns"))
        let pattern = #"\m(xmin|xmax|cmin|cmax|ctid)\M"#
        let inDatabase = try db.query(
            """
            SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname IN ('inlet', 'events', 'inlet_bi') AND p.prosrc ~ $1
            UNION ALL
            SELECT 'view ' || schemaname || '.' || viewname FROM pg_views
            WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND definition ~ $1
            UNION ALL
            SELECT 'policy ' || tablename || '.' || policyname FROM pg_policies
            WHERE coalesce(qual, '') ~ $1 OR coalesce(with_check, '') ~ $1
            """, pattern
        ).rows.map { try $0.decode(String.self, at: 0) }
        #expect(inDatabase.isEmpty, "\(inDatabase)")

        // And no SQL the Swift code sends: every line of Sources/ and sql/ that is not a comment.
        let expression = try Regex(#"\b(xmin|xmax|cmin|cmax|ctid)\b"#)
        var found: [String] = []
        for folder in ["Sources", "sql"] {
            let root = Self.repository.appending(path: folder)
            let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
            while let file = files?.nextObject() as? URL {
                guard ["swift", "sql"].contains(file.pathExtension) else { continue }
                for (number, line) in try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let code = line.trimmingCharacters(in: .whitespaces)
                    if code.hasPrefix("//") || code.hasPrefix("--") { continue }
                    if code.contains(expression) { found.append("\(file.lastPathComponent):\(number + 1)") }
                }
            }
        }
        #expect(found.isEmpty, "\(found)")
    }

    /// docs/SCALING.md's distribution script names every table once, as this test classifies it.
    @Test func theScalingGuideDistributesEveryTable() throws {
        let db = try TestDatabase.connect(try TestDatabase.createMigrated("distribution_document"))
        let guide = try String(contentsOf: Self.repository.appending(path: "docs/SCALING.md"), encoding: .utf8)
        let reference = try Regex(#"create_reference_table\('([a-z_.]+)'\)"#)
        let distributed = try Regex(#"create_distributed_table\('([a-z_.]+)', 'tenant_id'"#)
        let referenced = guide.matches(of: reference).map { String($0.output[1].substring ?? "") }
        let spread = guide.matches(of: distributed).map { String($0.output[1].substring ?? "") }
        #expect(Set(referenced) == Self.referenceTables, "reference tables in the guide: \(referenced)")
        let tables = try Self.tables(db)
        #expect(Set(spread) == Set(tables).subtracting(Self.referenceTables), "distributed tables in the guide: \(spread)")
        #expect(referenced.count + spread.count == tables.count, "a table named twice")
    }
}
