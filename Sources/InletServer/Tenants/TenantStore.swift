import PostgresClient

/// A tenant as stored in `inlet.tenants`.
public struct Tenant: Sendable, Hashable, Codable {
    public let id: Int64
    public let name: String
    public let enabled: Bool
    public let createdAt: String
}

/// Creates and lists tenants. Blocking: call from a CLI or a pool thread.
public struct TenantStore {
    let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    /// Creates a tenant with a fresh token; the token is returned once and only its hash stored.
    public func create(name: String) throws -> (Tenant, TenantToken) {
        let token = TenantToken.generate()
        let tenant = try connection.transaction {
            let row = try connection.query(
                "INSERT INTO inlet.tenants (name) VALUES ($1) RETURNING id, name, enabled, created_at", name
            ).first
            guard let row else { throw PostgresError(kind: .query, message: "INSERT returned no row") }
            let tenant = try Self.tenant(from: row)
            try connection.query(
                "INSERT INTO inlet.tenant_tokens (token_sha256, tenant_id) VALUES ($1, $2)",
                ByteaValue(token.sha256), tenant.id)
            return tenant
        }
        return (tenant, token)
    }

    /// The tenant that `token` currently authenticates, if any (enabled, token not expired).
    public func tenant(authenticatedBy token: TenantToken) throws -> Tenant? {
        try connection.query(
            """
            SELECT t.id, t.name, t.enabled, t.created_at FROM inlet.tenant_tokens k
            JOIN inlet.tenants t ON t.id = k.tenant_id
            WHERE k.token_sha256 = $1 AND t.enabled AND (k.expires_at IS NULL OR k.expires_at > now())
            """, ByteaValue(token.sha256)
        ).first.map(Self.tenant(from:))
    }

    public func list() throws -> [Tenant] {
        try connection.query("SELECT id, name, enabled, created_at FROM inlet.tenants ORDER BY id").rows
            .map(Self.tenant(from:))
    }

    static func tenant(from row: Row) throws -> Tenant {
        Tenant(
            id: try row.decode(at: 0), name: try row.decode(at: 1), enabled: try row.decode(at: 2),
            createdAt: try row.decode(at: 3))
    }
}
