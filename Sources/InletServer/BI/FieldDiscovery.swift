import Foundation
import InletMessages
import PostgresClient

/// A refresh stopped between two steps because the server is shutting down; what it committed
/// stays (a table's scan position only moves once the table is done).
struct BIRefreshStopped: Error {}

/// Finds the context fields, properties, traits and track events tenants' messages carry,
/// and adds the new ones to the catalog (`inlet.bi_fields`, `inlet.bi_events`, V0011).
///
/// Each scan reads only the rows loaded since the previous one (a BRIN index on loaded_at finds
/// them), so its cost follows the traffic since the last refresh, not the size of the tables;
/// and the server's pass reads them once for all tenants, not once per tenant. It only reads
/// the event tables (under a lock_timeout): ingestion never waits for it.
struct FieldDiscovery {
    let connection: Connection

    /// What a scan added to the catalog.
    struct Found: Sendable {
        var fields = 0
        var events = 0
    }

    /// Longest a scan may run (the session may have a shorter default).
    static let scanTimeout = "30min"
    /// How far before the oldest visible writing transaction the next scan starts.
    static let cutoffMargin = "1 minute"
    /// Longest a scan waits behind an exclusive lock on a month (an operator's VACUUM FULL, a
    /// non-concurrent DETACH); then the pass reports it and the next one tries again. Waiting
    /// for a read lock stalls no one else, and a shutdown cancels the wait.
    static let lockTimeout = "30s"

    /// Discovers what `tenants` sent since their last scans; what each tenant's scans added.
    func discover(tenants: [Int64], progress: (String) -> Void, shouldStop: () -> Bool = { false }) throws -> [Int64: Found] {
        // Rows of a transaction still open now carry its start as loaded_at (the column's
        // default is now()) and become visible only when it commits. The next scan starts at
        // the oldest writing transaction (one with an xid), read before this scan reads
        // anything, and at least `cutoffMargin` back: that covers writers whose sessions this
        // role may not see (another role's, unless it has pg_read_all_stats) and transactions
        // that have not written yet (Inlet's writers COPY at once and last at most
        // INLET_TRANSACTION_TIMEOUT, 10 s). Re-reading the margin costs little; the catalog
        // inserts are idempotent. Analysts' read-only sessions have no xid and hold nothing back.
        let cutoff: String =
            try connection.query(
                """
                SELECT least(now() - interval '\(Self.cutoffMargin)', (SELECT min(xact_start) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL))::text
                """
            ).first?.decode(at: 0) ?? ""
        var from: [String: [Int64: String]] = [:]
        for row in try connection.query(
            "SELECT relation, tenant_id, loaded_from::text FROM inlet.bi_scans WHERE tenant_id = ANY($1::bigint[])",
            PostgresArrayLiteral(tenants).text
        ).rows {
            from[try row.decode(at: 0), default: [:]][try row.decode(at: 1)] = try row.decode(at: 2)
        }
        var found: [Int64: Found] = [:]
        for table in EventTable.allCases {
            let scanned = from[table.name] ?? [:]
            // A tenant's first scan reads month by month, each within the statement timeout,
            // so a tenant with years of history is discovered however large it is.
            for tenant in tenants where scanned[tenant] == nil {
                let months = try partitions(of: table)
                for (index, month) in months.enumerated() {
                    try scan(table, source: month, tenants: [tenant], since: "-infinity", into: &found, shouldStop: shouldStop)
                    progress("tenant \(tenant): scanned \(month) (\(index + 1)/\(months.count))")
                }
            }
            // Later scans read the new rows of all months at once (the BRIN index skips the
            // rest), for all these tenants together, from the oldest of their positions.
            let known = tenants.filter { scanned[$0] != nil }
            if !known.isEmpty,
                let oldest: String = try connection.query(
                    "SELECT min(loaded_from)::text FROM inlet.bi_scans WHERE relation = $1 AND tenant_id = ANY($2::bigint[])",
                    table.name, PostgresArrayLiteral(known).text
                ).first?.decode(at: 0)
            {
                try scan(table, source: "events.\(table.name)", tenants: known, since: oldest, into: &found, shouldStop: shouldStop)
                progress("scanned \(table.name)")
            }
            try connection.query(
                """
                INSERT INTO inlet.bi_scans AS s (tenant_id, relation, loaded_from)
                SELECT tenant, $2, $3::timestamptz FROM unnest($1::bigint[]) AS tenant
                ON CONFLICT (tenant_id, relation) DO UPDATE SET loaded_from = EXCLUDED.loaded_from, scanned_at = now()
                """, PostgresArrayLiteral(tenants).text, table.name, cutoff)
        }
        return found
    }

    /// One scan of `source` (a month, or the whole table) for `tenants`, in its own transaction.
    private func scan(
        _ table: EventTable, source: String, tenants: [Int64], since: String, into found: inout [Int64: Found],
        shouldStop: () -> Bool
    ) throws {
        if shouldStop() { throw BIRefreshStopped() }
        try connection.transaction {
            // JIT off: the walk's row estimates are large, so PostgreSQL would compile it,
            // which took 0.1–2 s per table here against a few ms to run a scan that finds
            // nothing new.
            try connection.execute(
                "SET LOCAL statement_timeout = '\(Self.scanTimeout)'; SET LOCAL lock_timeout = '\(Self.lockTimeout)'; SET LOCAL jit = off")
            for (tenant, added) in try discoverFields(in: table, source: source, tenants: tenants, since: since) {
                found[tenant, default: Found()].fields += added
            }
            if table == .tracks {
                for (tenant, added) in try discoverEvents(source: source, tenants: tenants, since: since) {
                    found[tenant, default: Found()].events += added
                }
            }
        }
    }

    /// The month partitions of `table`, oldest first, as qualified names.
    private func partitions(of table: EventTable) throws -> [String] {
        try connection.query(
            """
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.inhparent = $1::regclass ORDER BY c.relname
            """, "events.\(table.name)"
        ).rows.map { try $0.decode(String.self, at: 0) }
    }

    /// The members of `table` whose fields become columns, besides context.
    static func ownMember(of table: EventTable) -> WarehouseField.Member? {
        switch table {
        case .tracks, .pages, .screens: .properties
        case .identifies, .groups: .traits
        case .aliases: nil
        }
    }

    /// Objects nested deeper than this many keys are a json column, as arrays are.
    static let maxDepth = 4

    /// Adds the fields seen in `table`'s rows loaded since `since`; returns how many were new.
    ///
    /// The walk is a fixed chain of `jsonb_each` per level, not a recursive CTE or a function
    /// per row: on 200,000 tracks it took half the time of a recursive CTE. Each leaf's kind is
    /// a bit (1 boolean, 2 number, 4 a string that is a timestamp by the views' own test, 8 any
    /// other string, 16 an array or a deep object; 0 for null and for an object, whose keys are
    /// walked), OR-ed per field.
    private func discoverFields(in table: EventTable, source: String, tenants: [Int64], since: String) throws -> [Int64: Int] {
        var members = ["('context', ''::text, t.context)"]
        if let own = Self.ownMember(of: table) {
            members.append("('\(own.rawValue)', \(table == .tracks ? "t.event" : "''::text"), t.\(own.rawValue))")
        }
        let levels = 1...Self.maxDepth
        let keys = levels.map { "e\($0).key" }.joined(separator: ", ")
        let leaf = "coalesce(" + levels.reversed().map { "e\($0).value" }.joined(separator: ", ") + ")"
        let walk = levels.dropFirst().map { level in
            "LEFT JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(e\(level - 1).value) = 'object' THEN e\(level - 1).value END) AS e\(level) ON true"
        }.joined(separator: "\n")
        let seen = try connection.query(
            """
            SELECT tenant_id, member, event, to_json(path)::text, kinds FROM (
                SELECT t.tenant_id, m.member, m.event, array_remove(ARRAY[\(keys)], NULL) AS path,
                    bit_or(CASE jsonb_typeof(\(leaf))
                        WHEN 'boolean' THEN 1 WHEN 'number' THEN 2
                        WHEN 'string' THEN CASE
                            WHEN left(\(leaf) #>> '{}', 4) ~ '^\\d{4}$' AND inlet_bi.as_timestamp(\(leaf)) IS NOT NULL THEN 4
                            ELSE 8 END
                        WHEN 'object' THEN CASE WHEN e\(Self.maxDepth).key IS NULL THEN 0 ELSE 16 END
                        WHEN 'null' THEN 0
                        ELSE 16 END) AS kinds
                FROM \(source) AS t
                CROSS JOIN LATERAL (VALUES \(members.joined(separator: ", "))) AS m (member, event, doc)
                CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(m.doc) = 'object' THEN m.doc END) AS e1
                \(walk)
                WHERE t.tenant_id = ANY($1::bigint[]) AND t.loaded_at >= $2::timestamptz
                GROUP BY 1, 2, 3, 4
            ) AS fields
            WHERE kinds <> 0
            ORDER BY 1, 2, 3, 4
            """, PostgresArrayLiteral(tenants).text, since)
        var added: [Int64: Int] = [:]
        for row in seen.rows {
            let tenantID: Int64 = try row.decode(at: 0)
            let member: String = try row.decode(at: 1)
            let event: String = try row.decode(at: 2)
            let path: String = try row.decode(at: 3)
            let bits: Int = try row.decode(at: 4)
            let kinds = Set(Self.kindBits.filter { bits & $0.bit != 0 }.map(\.kind))
            // A field keeps its first kind: one already in the catalog is left as it is.
            added[tenantID, default: 0] += try connection.query(
                """
                INSERT INTO inlet.bi_fields (tenant_id, relation, event, member, path, kind)
                VALUES ($1, $2, $3, $4, ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), $6)
                ON CONFLICT DO NOTHING
                """, tenantID, table.name, event, member, path, WarehouseField.Kind.merging(kinds).rawValue
            ).affectedRows
        }
        return added
    }

    static let kindBits: [(bit: Int, kind: WarehouseField.Kind)] = [
        (1, .boolean), (2, .number), (4, .timestamp), (8, .text), (16, .json),
    ]

    /// Adds the track events seen since `since`; returns how many were new per tenant.
    private func discoverEvents(source: String, tenants: [Int64], since: String) throws -> [Int64: Int] {
        let added = try connection.query(
            """
            INSERT INTO inlet.bi_events (tenant_id, event, event_text)
            SELECT tenant_id, event, min(event_text) FROM \(source)
            WHERE tenant_id = ANY($1::bigint[]) AND loaded_at >= $2::timestamptz
            GROUP BY tenant_id, event ORDER BY tenant_id, event
            ON CONFLICT DO NOTHING
            RETURNING tenant_id
            """, PostgresArrayLiteral(tenants).text, since)
        var counts: [Int64: Int] = [:]
        for row in added.rows { counts[try row.decode(Int64.self, at: 0), default: 0] += 1 }
        return counts
    }
}
