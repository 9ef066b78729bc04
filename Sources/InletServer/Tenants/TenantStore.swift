import PostgresClient

/// A tenant as stored in `inlet.tenants`.
public struct Tenant: Sendable, Hashable, Codable {
    public let id: Int64
    public let name: String
    public let enabled: Bool
    public let createdAt: String
    public let redirectURL: String?
    public let enableCompletedAt: String?
    /// The schema of this tenant's BI views (`docs/SCHEMA.md`), derived from its name by default.
    public let biSchema: String
}

/// A tenant with its tokens and its traffic: what `inlet tenant show` prints.
public struct TenantDetails: Sendable, Hashable, Codable {
    public let tenant: Tenant
    /// Usable tokens: the current one (no expiry) and any still in a rotation's grace period.
    public let activeTokens: Int
    /// When the oldest token still in its grace period stops working.
    public let graceEndsAt: String?
    public let messagesLast24Hours: Int64
    public let lastMessageAt: String?
    public let segmentSettings: String?
    /// When the tenant's BI views were last refreshed (`inlet bi refresh`, or the server).
    public let biRefreshedAt: String?
    /// The tenant's BI login role (`inlet tenant grant-bi`), if it has one.
    public var biRole: String? = nil
}

/// Who changed a tenant, for the audit trail.
public enum Actor: String, Sendable {
    case cli
    case adminAPI = "admin-api"
    /// An ingest request: the enable flow's token was first used (the server records it).
    case ingest
}

/// Tenants and their tokens. Blocking: call from a CLI or a pool thread.
public struct TenantStore {
    let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    static let columns = "t.id, t.name, t.enabled, t.created_at, t.redirect_url, t.enable_completed_at, t.bi_schema"

    /// Creates a tenant with a fresh token; the token is returned once and only its hash stored.
    /// `biSchema` names its BI schema (a lowercase identifier); by default it is derived from
    /// the name (`Acme Corp` → `acme_corp`, made unique with the id when taken).
    public func create(name: String, redirectURL: String? = nil, biSchema: String? = nil, actor: Actor = .cli) throws -> (Tenant, TenantToken) {
        if let biSchema { try requireAvailable(biSchema: biSchema) }
        let token = TenantToken.generate()
        let tenant = try connection.transaction {
            let inserted: QueryResult
            do {
                inserted = try connection.query(
                    "INSERT INTO inlet.tenants AS t (name, redirect_url, bi_schema) VALUES ($1, $2, $3) RETURNING \(Self.columns)",
                    name, redirectURL, biSchema)
            } catch let error as PostgresError where error.sqlState == SQLState.uniqueViolation {
                // Two tenants of one name created at the same moment both derived its schema.
                throw TenantError(description: "BI schema \"\(biSchema ?? name)\" was just taken by another tenant: try again", isNotFound: false)
            }
            let row = inserted.first
            guard let row else { throw PostgresError(kind: .query, message: "INSERT returned no row") }
            let tenant = try Self.tenant(from: row)
            try insert(token, for: tenant.id)
            try audit(tenant.id, "create", actor)
            return tenant
        }
        return (tenant, token)
    }

    /// Issues a new token; tokens issued before keep working for `grace`, then stop (every
    /// instance reloads tokens within seconds, so no restart is needed).
    public func rotate(id: Int64, grace: Duration, actor: Actor = .cli, action: String = "rotate") throws -> (TenantToken, graceEndsAt: String) {
        let token = TenantToken.generate()
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        let ends = try connection.transaction { () -> String in
            try requireTenant(id)
            try connection.query(
                """
                UPDATE inlet.tenant_tokens
                SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $2))
                WHERE tenant_id = $1
                """, id, seconds)
            try insert(token, for: id)
            try audit(id, action, actor, detail: #"{"grace_seconds": \#(seconds)}"#)
            let ends = try connection.query("SELECT (now() + make_interval(secs => $1))::text", seconds).first
            return try ends?.decode(String.self, at: 0) ?? ""
        }
        return (token, ends)
    }

    /// Stops (or restarts) every token of the tenant; takes effect within the refresh interval.
    public func setEnabled(id: Int64, _ enabled: Bool, actor: Actor = .cli) throws -> Tenant {
        try connection.transaction {
            guard
                let row = try connection.query(
                    "UPDATE inlet.tenants AS t SET enabled = $2, updated_at = now() WHERE id = $1 RETURNING \(Self.columns)", id,
                    enabled
                ).first
            else { throw TenantError.notFound(id) }
            try audit(id, enabled ? "enable" : "disable", actor)
            return try Self.tenant(from: row)
        }
    }

    /// The tenant that `token` currently authenticates, if any (enabled, token not expired).
    public func tenant(authenticatedBy token: TenantToken) throws -> Tenant? {
        try connection.query(
            """
            SELECT \(Self.columns) FROM inlet.tenant_tokens k JOIN inlet.tenants t ON t.id = k.tenant_id
            WHERE k.token_sha256 = $1 AND t.enabled AND (k.expires_at IS NULL OR k.expires_at > now())
            """, ByteaValue(token.sha256)
        ).first.map(Self.tenant(from:))
    }

    public func list() throws -> [Tenant] {
        try connection.query("SELECT \(Self.columns) FROM inlet.tenants t ORDER BY id").rows.map(Self.tenant(from:))
    }

    public func show(id: Int64) throws -> TenantDetails {
        guard
            let row = try connection.query(
                """
                SELECT \(Self.columns),
                    (SELECT count(*) FROM inlet.tenant_tokens k WHERE k.tenant_id = t.id AND (k.expires_at IS NULL OR k.expires_at > now())),
                    (SELECT min(expires_at)::text FROM inlet.tenant_tokens k WHERE k.tenant_id = t.id AND k.expires_at > now()),
                    (SELECT coalesce(sum(messages), 0) FROM inlet.tenant_traffic r WHERE r.tenant_id = t.id AND r.hour > now() - interval '24 hours'),
                    (SELECT max(last_message_at)::text FROM inlet.tenant_traffic r WHERE r.tenant_id = t.id),
                    t.segment_settings::text, t.bi_refreshed_at::text AS bi_refreshed_at,
                    (SELECT b.role_name FROM inlet.bi_roles b WHERE b.tenant_id = t.id) AS bi_role
                FROM inlet.tenants t WHERE t.id = $1
                """, id
            ).first
        else { throw TenantError.notFound(id) }
        return TenantDetails(
            tenant: try Self.tenant(from: row), activeTokens: try row.decode(at: 7), graceEndsAt: try row.decode(at: 8),
            messagesLast24Hours: try row.decode(at: 9), lastMessageAt: try row.decode(at: 10), segmentSettings: try row.decode(at: 11),
            biRefreshedAt: try row.decode(named: "bi_refreshed_at"), biRole: try row.decode(named: "bi_role"))
    }

    /// Records that the tenant came back from Segment's enable page.
    public func recordEnableCompleted(id: Int64) throws -> Tenant {
        try connection.transaction {
            guard
                let row = try connection.query(
                    "UPDATE inlet.tenants AS t SET enable_completed_at = now(), updated_at = now() WHERE id = $1 RETURNING \(Self.columns)",
                    id
                ).first
            else { throw TenantError.notFound(id) }
            try audit(id, "enable_flow_completed", .adminAPI)
            return try Self.tenant(from: row)
        }
    }

    /// Stores Segment's settings for the tenant when they differ from what is stored.
    public func saveSegmentSettings(id: Int64, json: String) throws {
        try connection.query(
            """
            UPDATE inlet.tenants SET segment_settings = $2::jsonb, settings_updated_at = now()
            WHERE id = $1 AND segment_settings IS DISTINCT FROM $2::jsonb
            """, id, json)
    }

    // MARK: - Pieces (internal: the extensions in other files use them)

    /// Stores the token's hash. `supersedesOnFirstUse`: the enable flow's token, whose first use
    /// starts the grace period of the tenant's earlier tokens (TenantStore+EnableFlow.swift).
    func insert(_ token: TenantToken, for id: Int64, supersedesOnFirstUse: Bool = false) throws {
        try connection.query(
            "INSERT INTO inlet.tenant_tokens (token_sha256, tenant_id, supersedes_on_first_use) VALUES ($1, $2, $3)",
            ByteaValue(token.sha256), id, supersedesOnFirstUse)
    }

    func audit(_ id: Int64, _ action: String, _ actor: Actor, detail: String? = nil) throws {
        try connection.query(
            "INSERT INTO inlet.tenant_audit (tenant_id, action, actor, detail) VALUES ($1, $2, $3, $4::jsonb)", id, action,
            actor.rawValue, detail)
    }

    /// A schema name the operator chose: a plain lowercase identifier, not one of the
    /// database's own schemas, not taken by another tenant nor by anything else in the database.
    func requireAvailable(biSchema: String) throws {
        guard biSchema.wholeMatch(of: #/[a-z_][a-z0-9_]{0,62}/#) != nil else {
            throw TenantError(
                description: "BI schema \"\(biSchema)\": use lowercase letters, digits and _ (at most 63, not starting with a digit)",
                isNotFound: false)
        }
        let row = try connection.query(
            """
            SELECT inlet.is_reserved_bi_schema($1), EXISTS (SELECT 1 FROM inlet.tenants WHERE bi_schema = $1),
                to_regnamespace($1) IS NOT NULL
            """, biSchema
        ).first
        let reserved: Bool = try row?.decode(at: 0) ?? true
        let taken: Bool = try row?.decode(at: 1) ?? true
        let exists: Bool = try row?.decode(at: 2) ?? true
        if reserved || taken || exists {
            let why = reserved ? "is reserved" : taken ? "belongs to another tenant" : "already exists in the database"
            throw TenantError(description: "BI schema \"\(biSchema)\" \(why)", isNotFound: false)
        }
    }

    func requireTenant(_ id: Int64) throws {
        guard try connection.query("SELECT 1 FROM inlet.tenants WHERE id = $1", id).first != nil else {
            throw TenantError.notFound(id)
        }
    }

    static func tenant(from row: Row) throws -> Tenant {
        Tenant(
            id: try row.decode(at: 0), name: try row.decode(at: 1), enabled: try row.decode(at: 2),
            createdAt: try row.decode(at: 3), redirectURL: try row.decode(at: 4), enableCompletedAt: try row.decode(at: 5),
            biSchema: try row.decode(at: 6))
    }
}

/// A tenant operation that cannot be done.
public struct TenantError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let isNotFound: Bool

    static func notFound(_ id: Int64) -> TenantError { TenantError(description: "no tenant \(id)", isNotFound: true) }
}
