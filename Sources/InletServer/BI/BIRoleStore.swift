import PostgresClient

/// Read-only PostgreSQL login roles for tenants' BI tools (`inlet tenant grant-bi/revoke-bi`).
///
/// A BI role is a member of `inlet_bi_reader` (V0012): SELECT on the eight shared tables of
/// `events`, restricted to its tenant's rows by row-level security, plus USAGE and SELECT on its
/// tenant's BI schema, which is its `search_path`. It owns nothing, may create nothing, and its
/// sessions are read-only with a statement and an idle-in-transaction timeout.
///
/// Creating and dropping roles needs CREATEROLE (or superuser) for the role Inlet connects as.
/// Blocking: call from a CLI or a pool thread.
public struct BIRoleStore {
    let connection: Connection
    let configuration: BIRoleConfiguration

    /// The NOLOGIN group of every BI role (V0012).
    static let group = "inlet_bi_reader"
    /// PostgreSQL truncates identifiers beyond 63 bytes (NAMEDATALEN - 1).
    static let maxNameBytes = 63

    public init(connection: Connection, configuration: BIRoleConfiguration = BIRoleConfiguration()) {
        self.connection = connection
        self.configuration = configuration
    }

    /// The tenant's BI role, if it has one.
    public func role(ofTenant id: Int64) throws -> BIRole? {
        try connection.query(
            """
            SELECT b.tenant_id, b.role_name, t.bi_schema, b.created_at::text
            FROM inlet.bi_roles b JOIN inlet.tenants t ON t.id = b.tenant_id WHERE b.tenant_id = $1
            """, id
        ).first.map { row in
            BIRole(tenantID: try row.decode(at: 0), role: try row.decode(at: 1), schema: try row.decode(at: 2), createdAt: try row.decode(at: 3))
        }
    }

    /// Creates the tenant's BI role with a new random password, returned once.
    ///
    /// A tenant has one BI role: when it has one already this throws (409 in the admin API);
    /// ``resetPassword(tenant:actor:)`` gives the existing role a new password instead.
    public func grant(tenant id: Int64, actor: Actor = .cli) throws -> BICredentials {
        let schema = try biSchema(of: id)
        if let existing = try role(ofTenant: id) { throw BIRoleError.alreadyGranted(id, role: existing.role) }
        try requireRoleManagement()
        let name = Self.roleName(schema: schema, suffix: Self.randomSuffix())
        let password = Self.randomPassword()
        // Hashed here, before the transaction (it asks the server for password_encryption).
        let hash = try connection.passwordHash(password, role: name)
        let quotedRole = try connection.escapeIdentifier(name)
        let quotedSchema = try connection.escapeIdentifier(schema)
        do {
            try connection.transaction {
                // First, so that a concurrent grant for the same tenant waits here and then fails.
                try connection.query("INSERT INTO inlet.bi_roles (role_name, tenant_id) VALUES ($1, $2)", name, id)
                try connection.execute(
                    """
                    CREATE ROLE \(quotedRole) LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS
                        CONNECTION LIMIT \(configuration.connectionLimit) PASSWORD \(try connection.escapeLiteral(hash))
                        IN ROLE \(Self.group)
                    """)
                try applySettings(quotedRole: quotedRole, quotedSchema: quotedSchema)
                // The lead's refresh creates the schema and its views; it may not have run yet.
                // Default privileges cover the views created later by this same database role.
                try connection.execute(
                    """
                    CREATE SCHEMA IF NOT EXISTS \(quotedSchema);
                    GRANT USAGE ON SCHEMA \(quotedSchema) TO \(quotedRole);
                    GRANT SELECT ON ALL TABLES IN SCHEMA \(quotedSchema) TO \(quotedRole);
                    ALTER DEFAULT PRIVILEGES IN SCHEMA \(quotedSchema) GRANT SELECT ON TABLES TO \(quotedRole);
                    """)
                try audit(id, "bi_role_granted", actor, role: name)
            }
        } catch let error as PostgresError where error.sqlState == SQLState.uniqueViolation {
            // Another grant for this tenant committed first.
            throw BIRoleError.alreadyGranted(id, role: try role(ofTenant: id)?.role ?? "(just created)")
        } catch let error as PostgresError where error.sqlState == SQLState.insufficientPrivilege {
            throw BIRoleError.privileges("cannot create BI role \(name): \(error.message)")
        }
        return BICredentials(tenantID: id, role: name, password: password, schema: schema, database: try currentDatabase())
    }

    /// `grant-bi --reset-password` and `{"reset_password": true}`: a new password for the
    /// tenant's BI role when it has one, else a new role. `created` tells which.
    public func grantOrResetPassword(tenant id: Int64, actor: Actor = .cli) throws -> (credentials: BICredentials, created: Bool) {
        if try role(ofTenant: id) != nil { return (try resetPassword(tenant: id, actor: actor), false) }
        return (try grant(tenant: id, actor: actor), true)
    }

    /// Gives the tenant's existing BI role a new password (the old one stops working at once)
    /// and applies the current settings (timeouts, connection limit) to it again.
    public func resetPassword(tenant id: Int64, actor: Actor = .cli) throws -> BICredentials {
        let schema = try biSchema(of: id)
        guard let existing = try role(ofTenant: id) else { throw BIRoleError.notGranted(id) }
        try requireRoleManagement()
        let password = Self.randomPassword()
        let hash = try connection.passwordHash(password, role: existing.role)
        let quotedRole = try connection.escapeIdentifier(existing.role)
        try connection.transaction {
            try connection.execute(
                "ALTER ROLE \(quotedRole) CONNECTION LIMIT \(configuration.connectionLimit) PASSWORD \(try connection.escapeLiteral(hash))")
            try applySettings(quotedRole: quotedRole, quotedSchema: try connection.escapeIdentifier(schema))
            try audit(id, "bi_role_password_reset", actor, role: existing.role)
        }
        return BICredentials(tenantID: id, role: existing.role, password: password, schema: schema, database: try currentDatabase())
    }

    /// Drops the tenant's BI role: no new logins, its sessions terminated, its privileges
    /// revoked, the role dropped and unmapped. Returns the role that was dropped.
    ///
    /// When the drop fails (another database holds privileges granted to the role by hand, say)
    /// the role stays mapped, unable to log in, and the error names what holds it: revoke again
    /// once that is removed.
    @discardableResult
    public func revoke(tenant id: Int64, actor: Actor = .cli) throws -> BIRole {
        _ = try biSchema(of: id)  // an unknown tenant is "no tenant", not "no BI role"
        guard let existing = try role(ofTenant: id) else { throw BIRoleError.notGranted(id) }
        try requireRoleManagement()
        let quotedRole = try connection.escapeIdentifier(existing.role)
        let exists = try connection.query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", existing.role).first != nil
        // Committed on its own first: from here no new session can start. Sessions that are
        // already in are ended below (NOLOGIN does not end them, nor does DROP ROLE).
        if exists { try connection.execute("ALTER ROLE \(quotedRole) NOLOGIN") }
        try connection.transaction {
            if exists {
                // Terminating a role's sessions and DROP OWNED BY need the privileges of that
                // role, which a CREATEROLE role that is not superuser lacks on PostgreSQL 15:
                // it is granted the role for this transaction only (DROP ROLE takes it away).
                let member = try connection.query("SELECT pg_catalog.pg_has_role(current_user, $1, 'USAGE')", existing.role)
                    .first?.decode(Bool.self, at: 0) ?? false
                if !member { try connection.execute("GRANT \(quotedRole) TO CURRENT_USER") }
                // Every database of the cluster: the role may be connected to another one.
                try connection.query(
                    "SELECT pg_catalog.pg_terminate_backend(pid, 5000) FROM pg_catalog.pg_stat_activity WHERE usename = $1",
                    existing.role)
                try connection.execute("DROP OWNED BY \(quotedRole); DROP ROLE \(quotedRole)")
            }
            try connection.query("DELETE FROM inlet.bi_roles WHERE tenant_id = $1", id)
            try audit(id, "bi_role_revoked", actor, role: existing.role)
        }
        return existing
    }

    // MARK: - Pieces

    /// `ALTER ROLE ... SET`: what each of the role's sessions starts with. A BI role may change
    /// these in its own session (they are settings, not privileges: the grants and the policies
    /// are what keep it to its tenant's rows, read-only); they protect against accidents, such
    /// as a forgotten query or an open transaction holding locks.
    func applySettings(quotedRole: String, quotedSchema: String) throws {
        try connection.execute(
            """
            ALTER ROLE \(quotedRole) SET search_path = \(quotedSchema);
            ALTER ROLE \(quotedRole) SET statement_timeout = \(try connection.escapeLiteral(configuration.statementTimeout));
            ALTER ROLE \(quotedRole) SET idle_in_transaction_session_timeout = \(try connection.escapeLiteral(configuration.idleInTransactionTimeout));
            ALTER ROLE \(quotedRole) SET default_transaction_read_only = on;
            """)
    }

    /// The tenant's BI schema name; throws when there is no such tenant.
    func biSchema(of id: Int64) throws -> String {
        guard let row = try connection.query("SELECT bi_schema FROM inlet.tenants WHERE id = $1", id).first else {
            throw BIRoleError.tenantNotFound(id)
        }
        return try row.decode(String.self, at: 0)
    }

    /// Fails early, with the fix in the message, when this connection cannot manage BI roles.
    func requireRoleManagement() throws {
        let row = try connection.query(
            """
            SELECT current_user::text, r.rolsuper OR r.rolcreaterole,
                (SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = $1),
                (SELECT string_agg(m.roleid::regrole::text, ', ') FROM pg_catalog.pg_auth_members m WHERE m.member = to_regrole($1))
            FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
            """, Self.group
        ).first
        guard let row else { throw BIRoleError.privileges("cannot read this connection's role") }
        let user: String = try row.decode(at: 0)
        guard try row.decode(Bool.self, at: 1) else {
            throw BIRoleError.privileges(
                "database role \(user) cannot create roles: BI roles need CREATEROLE (as a superuser: ALTER ROLE \(try connection.escapeIdentifier(user)) CREATEROLE)")
        }
        guard try row.decode(Int.self, at: 2) == 1 else {
            throw BIRoleError.privileges("role \(Self.group) is missing: run `migrator up`")
        }
        // Whatever the group is a member of, every BI role would inherit (pg_read_all_data
        // would open the inlet schema): refuse rather than hand that out.
        if let memberOf: String = try row.decode(at: 3) {
            throw BIRoleError.privileges("role \(Self.group) is a member of \(memberOf), which BI roles would inherit: revoke that first")
        }
    }

    func audit(_ id: Int64, _ action: String, _ actor: Actor, role: String) throws {
        try connection.query(
            "INSERT INTO inlet.tenant_audit (tenant_id, action, actor, detail) VALUES ($1, $2, $3, jsonb_build_object('role', $4::text))",
            id, action, actor.rawValue, role)
    }

    func currentDatabase() throws -> String {
        try connection.query("SELECT current_database()::text").first?.decode(String.self, at: 0) ?? ""
    }

    /// `<schema>_bi_<suffix>`, the schema part cut so the whole fits in 63 bytes. Names are
    /// unique in the cluster (several Inlet databases may share one), hence the random suffix.
    static func roleName(schema: String, suffix: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_".utf8)
        let cleaned = schema.lowercased().utf8.map { allowed.contains($0) ? $0 : UInt8(ascii: "_") }
        let tail = "_bi_" + suffix
        let head = cleaned.prefix(maxNameBytes - tail.utf8.count)
        return String(decoding: head, as: UTF8.self) + tail
    }

    /// 10 random characters of `[a-z2-7]` (50 bits).
    static func randomSuffix() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var generator = SystemRandomNumberGenerator()
        return String((0..<10).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// 256 random bits, URL-safe base64 (43 characters), so it can go into a connection URI as is.
    static func randomPassword() -> String { TenantToken.generate().value }
}
