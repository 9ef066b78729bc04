import Foundation
import InletMessages
import PostgresClient

/// Finds the context fields, properties, traits and track events a tenant's messages carry,
/// and adds the new ones to the catalog (`inlet.bi_fields`, `inlet.bi_events`, V0011).
///
/// Each scan reads only the rows loaded since the previous one (a BRIN index on loaded_at finds
/// them), so its cost follows the traffic since the last refresh, not the size of the tables.
/// It only reads the event tables: ingestion never waits for it.
struct FieldDiscovery {
    let connection: Connection

    /// What a scan added to the catalog.
    struct Found: Sendable {
        var fields = 0
        var events = 0
    }

    /// Longest a scan may run (the session may have a shorter default).
    static let scanTimeout = "30min"
    /// Longest a scan waits behind an exclusive lock on a table (an operator's ALTER, a
    /// non-concurrent DETACH): the refresh fails and is retried later instead of holding the
    /// server's shutdown.
    static let lockTimeout = "5s"

    func discover(tenantID: Int64, progress: (String) -> Void) throws -> Found {
        // Rows of a transaction still open now carry its start as loaded_at (the column's
        // default is now()) and become visible only when it commits: the next scan starts at the
        // oldest open transaction of the service's role, taken before this scan's snapshot, so
        // it cannot miss them. Analysts' sessions are other roles and never hold it back.
        let cutoff: String =
            try connection.query(
                """
                SELECT least(now(), (SELECT min(xact_start) FROM pg_stat_activity
                    WHERE usename = current_user AND datname = current_database() AND pid <> pg_backend_pid()))::text
                """
            ).first?.decode(at: 0) ?? ""
        return try connection.transaction {
            try connection.execute(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; SET LOCAL statement_timeout = '\(Self.scanTimeout)'; SET LOCAL lock_timeout = '\(Self.lockTimeout)'")
            let scanned = try connection.query(
                "SELECT relation, loaded_from::text FROM inlet.bi_scans WHERE tenant_id = $1", tenantID)
            var from: [String: String] = [:]
            for row in scanned.rows { from[try row.decode(at: 0)] = try row.decode(at: 1) }
            var found = Found()
            for table in EventTable.allCases {
                let since = from[table.name] ?? "-infinity"
                found.fields += try discoverFields(in: table, tenantID: tenantID, since: since)
                if table == .tracks { found.events += try discoverEvents(tenantID: tenantID, since: since) }
                progress("scanned \(table.name)")
                try connection.query(
                    """
                    INSERT INTO inlet.bi_scans AS s (tenant_id, relation, loaded_from) VALUES ($1, $2, $3::timestamptz)
                    ON CONFLICT (tenant_id, relation) DO UPDATE SET loaded_from = EXCLUDED.loaded_from, scanned_at = now()
                    """, tenantID, table.name, cutoff)
            }
            return found
        }
    }

    /// The members of `table` whose fields become columns, besides context.
    static func ownMember(of table: EventTable) -> WarehouseField.Member? {
        switch table {
        case .tracks, .pages, .screens: .properties
        case .identifies, .groups: .traits
        case .aliases: nil
        }
    }

    /// Adds the fields seen in `table`'s rows loaded since `since`; returns how many were new.
    private func discoverFields(in table: EventTable, tenantID: Int64, since: String) throws -> Int {
        var members = ["SELECT 'context', ''::text, p.path, p.kind FROM inlet.jsonb_leaf_paths(t.context) AS p"]
        if let own = Self.ownMember(of: table) {
            let event = table == .tracks ? "t.event" : "''::text"
            members.append("SELECT '\(own.rawValue)', \(event), p.path, p.kind FROM inlet.jsonb_leaf_paths(t.\(own.rawValue)) AS p")
        }
        let seen = try connection.query(
            """
            SELECT f.member, f.event, to_json(f.path)::text, string_agg(DISTINCT f.kind, ',')
            FROM events.\(table.name) AS t
            CROSS JOIN LATERAL (\(members.joined(separator: " UNION ALL "))) AS f (member, event, path, kind)
            WHERE t.tenant_id = $1 AND t.loaded_at >= $2::timestamptz
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, 3
            """, tenantID, since)
        var added = 0
        for row in seen.rows {
            let member: String = try row.decode(at: 0)
            let event: String = try row.decode(at: 1)
            let path: String = try row.decode(at: 2)
            let kinds = Set(try row.decode(String.self, at: 3).split(separator: ",").compactMap { WarehouseField.Kind(rawValue: String($0)) })
            // A field keeps its first kind: one already in the catalog is left as it is.
            added += try connection.query(
                """
                INSERT INTO inlet.bi_fields (tenant_id, relation, event, member, path, kind)
                VALUES ($1, $2, $3, $4, ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), $6)
                ON CONFLICT DO NOTHING
                """, tenantID, table.name, event, member, path, WarehouseField.Kind.merging(kinds).rawValue
            ).affectedRows
        }
        return added
    }

    /// Adds the track events seen since `since`; returns how many were new.
    private func discoverEvents(tenantID: Int64, since: String) throws -> Int {
        try connection.query(
            """
            INSERT INTO inlet.bi_events (tenant_id, event, event_text)
            SELECT $1, event, min(event_text) FROM events.tracks
            WHERE tenant_id = $1 AND loaded_at >= $2::timestamptz
            GROUP BY event ORDER BY event
            ON CONFLICT DO NOTHING
            """, tenantID, since
        ).affectedRows
    }
}
