import Foundation
import InletMessages
import PostgresClient

/// What one refresh of a tenant's BI schema did (`inlet bi refresh` prints it).
public struct BIRefreshReport: Sendable, Codable {
    public let tenantID: Int64
    public let schema: String
    public var newFields = 0
    public var newEvents = 0
    public var views = 0
    public var created = 0
    public var replaced = 0
    /// Views not replaced now because a reader held them past the lock timeout: retried at
    /// the next refresh.
    public var busy: [String] = []
    /// Views that could not be replaced, with why (e.g. an analyst's view depends on a column).
    public var failed: [String: String] = [:]

    init(tenantID: Int64, schema: String) {
        self.tenantID = tenantID
        self.schema = schema
    }
}

/// (Re)creates a tenant's BI schema: discovers new fields, then creates the views whose
/// definition changed (`docs/SCHEMA.md`). Blocking: call from a CLI or a thread of its own.
///
/// Never in ingestion's way: discovery only reads the event tables, and a view is replaced
/// under a short lock_timeout (an analyst's open query on it makes this refresh skip it, instead
/// of queueing every later reader behind the replacement). Tenants are refreshed one at a time
/// across all instances (an advisory lock per tenant); a tenant being refreshed elsewhere is
/// skipped.
public struct BIRefresh {
    let connection: Connection
    let progress: (String) -> Void
    /// Asked between steps (tenants, months scanned, views): true when the server shuts down.
    let shouldStop: () -> Bool

    /// How long replacing a view waits for its readers.
    static let viewLockTimeout = "2s"

    public init(connection: Connection, progress: @escaping (String) -> Void = { _ in }, shouldStop: @escaping () -> Bool = { false }) {
        self.connection = connection
        self.progress = progress
        self.shouldStop = shouldStop
    }

    /// Refreshes every tenant's schema: one discovery over the rows all tenants sent since
    /// the last pass, then each tenant's views. A pass running on another instance makes this
    /// one a no-op. When discovery fails (a scan behind an operator's exclusive lock), each
    /// report says so and the views are still brought up to the catalog.
    public func refreshAll() throws -> [BIRefreshReport] {
        let tenants = try connection.query("SELECT id, bi_schema FROM inlet.tenants ORDER BY id").rows.map {
            (id: try $0.decode(Int64.self, at: 0), schema: try $0.decode(String.self, at: 1))
        }
        guard try advisoryLock(Self.passLockKey) else { return [] }
        defer { advisoryUnlock(Self.passLockKey) }
        var found: [Int64: FieldDiscovery.Found] = [:]
        var discoveryError: String?
        do {
            found = try FieldDiscovery(connection: connection).discover(tenants: tenants.map(\.id), progress: progress, shouldStop: shouldStop)
        } catch let error as PostgresError where !error.isConnectionFailure && !shouldStop() {
            discoveryError = error.summary
        }
        var reports: [BIRefreshReport] = []
        for tenant in tenants where !shouldStop() {
            guard try advisoryLock(tenant.id) else { continue }
            defer { advisoryUnlock(tenant.id) }
            var report = BIRefreshReport(tenantID: tenant.id, schema: tenant.schema)
            report.newFields = found[tenant.id]?.fields ?? 0
            report.newEvents = found[tenant.id]?.events ?? 0
            if let discoveryError { report.failed["(discovery)"] = discoveryError }
            reports.append(try updateViews(report))
        }
        return reports
    }

    /// Refreshes one tenant's schema; nil when another refresh of it is running.
    public func refresh(tenantID: Int64) throws -> BIRefreshReport? {
        guard let schema: String = try connection.query("SELECT bi_schema FROM inlet.tenants WHERE id = $1", tenantID).first?.decode(at: 0)
        else { throw TenantError.notFound(tenantID) }
        guard try advisoryLock(tenantID) else { return nil }
        defer { advisoryUnlock(tenantID) }
        var report = BIRefreshReport(tenantID: tenantID, schema: schema)
        let found = try FieldDiscovery(connection: connection).discover(tenants: [tenantID], progress: progress, shouldStop: shouldStop)
        report.newFields = found[tenantID]?.fields ?? 0
        report.newEvents = found[tenantID]?.events ?? 0
        return try updateViews(report)
    }

    /// The advisory lock keys: one per tenant (its views are created by one refresh at a time),
    /// and one for the server's pass (`passLockKey`, not a tenant id: ids start at 1).
    static let passLockKey: Int64 = 0

    private func advisoryLock(_ key: Int64) throws -> Bool {
        try connection.query("SELECT pg_try_advisory_lock(hashtext('inlet.bi_refresh'), ($1 % 2147483647)::integer)", key)
            .first?.decode(at: 0) ?? false
    }

    private func advisoryUnlock(_ key: Int64) {
        _ = try? connection.query("SELECT pg_advisory_unlock(hashtext('inlet.bi_refresh'), ($1 % 2147483647)::integer)", key)
    }

    /// Creates or replaces the tenant's views whose definition changed.
    private func updateViews(_ initial: BIRefreshReport) throws -> BIRefreshReport {
        var report = initial
        let (tenantID, schema) = (report.tenantID, report.schema)
        let views = try WarehouseViews(
            tenantID: tenantID, schema: schema, fields: try catalogFields(tenantID), events: try catalogEvents(tenantID)
        ).definitions()
        report.views = views.count
        try connection.execute("CREATE SCHEMA IF NOT EXISTS \(WarehouseName.quoted(schema))")
        let applied = try appliedDefinitions(tenantID)
        // The tenant's BI role reads new views through default privileges, but only those of
        // views created by the role that ran grant-bi: when an operator granted with another
        // role than the server's, each view is granted here too.
        let reader: String? = try connection.query("SELECT role_name FROM inlet.bi_roles WHERE tenant_id = $1", tenantID).first?.decode(at: 0)
        for (index, view) in views.enumerated() {
            if shouldStop() { throw BIRefreshStopped() }
            let exists = try viewExists(schema: schema, view.name)
            if exists && applied[view.name] == view.sql { continue }
            do {
                try apply(view, tenantID: tenantID, schema: schema, replacing: exists)
                if let reader {
                    try connection.query(
                        "GRANT SELECT ON \(WarehouseName.quoted(schema)).\(WarehouseName.quoted(view.name)) TO \(WarehouseName.quoted(reader))")
                }
                if exists { report.replaced += 1 } else { report.created += 1 }
                progress("tenant \(tenantID): view \(schema).\(view.name) \(exists ? "replaced" : "created") (\(index + 1)/\(views.count))")
            } catch let error as PostgresError where error.sqlState == SQLState.lockNotAvailable {
                report.busy.append(view.name)
            } catch let error as PostgresError where !error.isConnectionFailure {
                report.failed[view.name] = error.summary
            }
        }
        try connection.query("UPDATE inlet.tenants SET bi_refreshed_at = now() WHERE id = $1", tenantID)
        return report
    }

    /// Creates or replaces `view`. A view whose columns no longer fit the new definition (an
    /// upgrade of Inlet changed them) is dropped and created again, which fails while an
    /// analyst's own view depends on it: that is reported, not forced with CASCADE.
    private func apply(_ view: ViewDefinition, tenantID: Int64, schema: String, replacing: Bool) throws {
        do {
            try replace(view, tenantID: tenantID, schema: schema, dropFirst: false)
        } catch let error as PostgresError where replacing && error.sqlState == SQLState.invalidTableDefinition {
            try replace(view, tenantID: tenantID, schema: schema, dropFirst: true)
        }
    }

    private func replace(_ view: ViewDefinition, tenantID: Int64, schema: String, dropFirst: Bool) throws {
        try connection.transaction {
            try connection.execute("SET LOCAL lock_timeout = '\(Self.viewLockTimeout)'")
            if dropFirst {
                try connection.execute("DROP VIEW \(WarehouseName.quoted(schema)).\(WarehouseName.quoted(view.name))")
            }
            // One statement only (the extended protocol refuses more): a definition is never
            // a way to run anything else, even if quoting had a flaw.
            try connection.query(view.sql)
            try connection.query(
                """
                INSERT INTO inlet.bi_views (tenant_id, view_name, definition) VALUES ($1, $2, $3)
                ON CONFLICT (tenant_id, view_name) DO UPDATE SET definition = EXCLUDED.definition, created_at = now()
                """, tenantID, view.name, view.sql)
        }
    }

    private func viewExists(schema: String, _ name: String) throws -> Bool {
        try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'v')
            """, schema, name
        ).first?.decode(at: 0) ?? false
    }

    private func appliedDefinitions(_ tenantID: Int64) throws -> [String: String] {
        var applied: [String: String] = [:]
        for row in try connection.query("SELECT view_name, definition FROM inlet.bi_views WHERE tenant_id = $1", tenantID).rows {
            applied[try row.decode(at: 0)] = try row.decode(at: 1)
        }
        return applied
    }

    private func catalogFields(_ tenantID: Int64) throws -> [WarehouseField] {
        try connection.query(
            "SELECT relation, event, member, to_json(path)::text, kind FROM inlet.bi_fields WHERE tenant_id = $1 ORDER BY position",
            tenantID
        ).rows.compactMap { row in
            guard
                let relation = EventTable.allCases.first(where: { $0.name == (try? row.decode(String.self, at: 0)) }),
                let member = WarehouseField.Member(rawValue: try row.decode(at: 2)),
                let kind = WarehouseField.Kind(rawValue: try row.decode(at: 4))
            else { return nil }
            let path = try JSONDecoder().decode([String].self, from: Data(try row.decode(String.self, at: 3).utf8))
            return WarehouseField(relation: relation, event: try row.decode(at: 1), member: member, path: path, kind: kind)
        }
    }

    private func catalogEvents(_ tenantID: Int64) throws -> [String] {
        try connection.query("SELECT event FROM inlet.bi_events WHERE tenant_id = $1 ORDER BY position", tenantID).rows.map {
            try $0.decode(String.self, at: 0)
        }
    }
}
