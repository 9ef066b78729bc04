import Foundation
@testable import InletServer
import NIOHTTP1
import InletTestSupport
import PostgresClient
import Testing

/// Read-only BI roles (issue 12, item 2), against a database owned, as in production, by a role
/// that is not superuser (superusers bypass row-level security and every privilege check):
/// `inlet_owner_...` with CREATEROLE, which migrates, serves and grants.
@Suite struct BIRoleTests {
    static let tables = ["tracks", "identifies", "pages", "screens", "groups", "aliases", "users", "accounts"]

    /// A migrated database owned by a fresh non-superuser role with CREATEROLE.
    struct OwnedDatabase {
        let name: String
        let owner: String

        init(_ label: String) throws {
            let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            name = "\(label)_\(suffix)"
            owner = "inlet_owner_\(suffix)"
            let admin = try TestDatabase.connect(TestDatabase.serverURL)
            try admin.execute("CREATE ROLE \(owner) LOGIN CREATEROLE")
            try admin.execute("CREATE DATABASE \(name) OWNER \(owner)")
            try TestDatabase.migrate(url(user: owner))
        }

        /// This database, as `user` (the test cluster trusts 127.0.0.1: no password needed).
        func url(user: String) -> String {
            let base = TestDatabase.url(forDatabase: name)
            if var components = URLComponents(string: base), components.scheme?.hasPrefix("postgres") == true {
                components.user = user
                if let url = components.string { return url }
            }
            return base + " user=\(user)"
        }

        var ownerURL: String { url(user: owner) }
        /// The superuser of the test cluster, for checks nothing else may make.
        func superuser() throws -> Connection { try TestDatabase.connect(TestDatabase.url(forDatabase: name)) }
        func connect(as user: String) throws -> Connection { try TestDatabase.connect(url(user: user)) }
        func store(_ configuration: BIRoleConfiguration = BIRoleConfiguration()) throws -> BIRoleStore {
            BIRoleStore(connection: try connect(as: owner), configuration: configuration)
        }
    }

    /// Every message type for `user` of one tenant; `n` of each, so tenants' counts differ.
    static func traffic(_ n: Int, user: String) -> String {
        let messages = (0..<n).flatMap { i -> [String] in
            let id = { UUID().uuidString }
            return [
                Messages.track(id: id(), user: "\(user)-\(i)"),
                Messages.identify(id: id(), user: "\(user)-\(i)"),
                #"{"type":"page","messageId":"\#(id())","userId":"\#(user)-\#(i)","name":"Home","properties":{"url":"https://example.com/"}}"#,
                #"{"type":"screen","messageId":"\#(id())","userId":"\#(user)-\#(i)","name":"Main"}"#,
                #"{"type":"group","messageId":"\#(id())","userId":"\#(user)-\#(i)","groupId":"\#(user)-org-\#(i)","traits":{"plan":"pro"}}"#,
                #"{"type":"alias","messageId":"\#(id())","userId":"\#(user)-\#(i)","previousId":"anon-\#(user)-\#(i)"}"#,
            ]
        }
        return Messages.batch(messages)
    }

    /// Two tenants with rows in all eight tables, written by a real server as the owner (with
    /// row-level security enabled), including a redelivery and a profile update.
    static func twoTenantsWithTraffic(_ database: OwnedDatabase) async throws -> (a: Int64, b: Int64) {
        let tenants = try TenantStore(connection: try database.connect(as: database.owner))
        let (a, aToken) = try tenants.create(name: "Alpha")
        let (b, bToken) = try tenants.create(name: "Beta")
        try await IngestHarness(databaseURL: database.ownerURL).run { client in
            let alpha = traffic(2, user: "alpha")
            let first = try await client.post("/v1/batch", json: alpha, token: aToken.value)
            #expect(first.status == 200, "\(first.body)")
            #expect(first.json["accepted"] as? Int == 12)
            let again = try await client.post("/v1/batch", json: alpha, token: aToken.value)
            #expect(again.json["duplicates"] as? Int == 12, "a redelivery goes through staging and ON CONFLICT")
            let update = try await client.post(
                "/v1/identify", json: Messages.identify(user: "alpha-0", traits: #"{"email":"new@example.com"}"#), token: aToken.value)
            #expect(update.status == 200)
            let beta = try await client.post("/v1/batch", json: traffic(3, user: "beta"), token: bToken.value)
            #expect(beta.json["accepted"] as? Int == 18, "\(beta.body)")
        }
        let owner = try database.connect(as: database.owner)
        #expect(try owner.query("SELECT traits->>'email' FROM events.users WHERE tenant_id = $1 AND id = 'alpha-0'", a.id).first?
            .decode(String.self, at: 0) == "new@example.com")
        return (a.id, b.id)
    }

    /// The SQLSTATE `body` fails with, nil when it succeeds.
    static func sqlState(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as PostgresError {
            return error.sqlState ?? "(no SQLSTATE: \(error.message))"
        } catch {
            return "\(error)"
        }
    }

    static func count(_ connection: Connection, _ sql: String, _ parameters: (any PostgresBindable)?...) throws -> Int {
        try connection.query(sql, parameters: parameters).first?.decode(Int.self, at: 0) ?? -1
    }

    @Test func aBIRoleReadsItsTenantsRowsOnlyInEveryTableAndViewAndNothingElse() async throws {
        let database = try OwnedDatabase("bi_reads")
        let (a, b) = try await Self.twoTenantsWithTraffic(database)
        let store = try database.store()
        let grantA = try store.grant(tenant: a)
        let grantB = try store.grant(tenant: b)
        let owner = try database.connect(as: database.owner)
        #expect(try owner.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").first?.decode(Bool.self, at: 0) == false)
        // Views created after the grant, as the refresh will (security_invoker, like the lead's):
        // over the whole table, so that only row-level security keeps B's rows out.
        for grant in [grantA, grantB] {
            try owner.execute(
                "CREATE VIEW \(grant.schema).tracks WITH (security_invoker = true) AS SELECT * FROM events.tracks")
        }

        let bi = try database.connect(as: grantA.role)
        for table in Self.tables {
            let expected = try Self.count(owner, "SELECT count(*) FROM events.\(table) WHERE tenant_id = $1", a)
            #expect(expected > 0, "\(table) has rows of A")
            #expect(try Self.count(bi, "SELECT count(*) FROM events.\(table)") == expected, "\(table)")
            #expect(try Self.count(bi, "SELECT count(*) FROM events.\(table) WHERE tenant_id = $1", b) == 0, "\(table)")
        }
        #expect(try Self.count(bi, "SELECT count(*) FROM tracks") == (try Self.count(owner, "SELECT count(*) FROM events.tracks WHERE tenant_id = $1", a)))
        #expect(try Self.count(bi, "SELECT count(DISTINCT tenant_id) FROM tracks") == 1)
        // The real views, created by the refresh after the grant (replacing the stand-in above):
        // readable through the default privileges, every one of them A's rows only.
        for tenant in [a, b] { _ = try BIRefresh(connection: owner).refresh(tenantID: tenant) }
        let views = try owner.query(
            "SELECT table_name FROM information_schema.views WHERE table_schema = $1 ORDER BY 1", grantA.schema
        ).rows.map { try $0.decode(String.self, at: 0) }
        #expect(views.count > WarehouseViews.standardViews.count, "\(views)")
        for view in views {
            let mine = try Self.count(owner, "SELECT count(*) FROM \(grantA.schema).\(view)")
            #expect(try Self.count(bi, "SELECT count(*) FROM \(view)") == mine, "\(view)")
        }
        #expect(try Self.count(bi, "SELECT count(*) FROM tracks") == (try Self.count(owner, "SELECT count(*) FROM events.tracks WHERE tenant_id = $1", a)))

        #expect(Self.sqlState { try bi.query("SELECT count(*) FROM \(grantB.schema).tracks") } == SQLState.insufficientPrivilege)
        for table in ["tenants", "tenant_tokens", "bi_roles", "rejected_messages", "tenant_audit"] {
            #expect(Self.sqlState { try bi.query("SELECT count(*) FROM inlet.\(table)") } == SQLState.insufficientPrivilege, "inlet.\(table)")
        }
        let partition = try #require(
            try owner.query("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'events.tracks'::regclass LIMIT 1").first?
                .decode(String.self, at: 0))
        #expect(Self.sqlState { try bi.query("SELECT count(*) FROM \(partition)") } == SQLState.insufficientPrivilege)
        // Column statistics would show other tenants' values: hidden for tables under RLS.
        try owner.execute("ANALYZE events.tracks, events.users")
        #expect(try Self.count(bi, "SELECT count(*) FROM pg_stats WHERE schemaname = 'events'") == 0)

        // Another Inlet database of the cluster: the group has SELECT there too, but the role is
        // in no mapping of that database, so it reads nothing.
        let other = try TestDatabase.createMigrated("bi_other")
        let otherAdmin = try TestDatabase.connect(other)
        let (otherTenant, _) = try TenantStore(connection: otherAdmin).create(name: "Other")
        try otherAdmin.query(
            "INSERT INTO events.users (tenant_id, id, first_seen_at, last_seen_at) VALUES ($1, 'u', now(), now())", otherTenant.id)
        var components = try #require(URLComponents(string: other))
        components.user = grantA.role
        let elsewhere = try TestDatabase.connect(try #require(components.string))
        #expect(try Self.count(elsewhere, "SELECT count(*) FROM events.users") == 0)
    }

    @Test func aBIRoleCannotWriteCreateOrRaiseItsPrivileges() async throws {
        let database = try OwnedDatabase("bi_writes")
        let (a, _) = try await Self.twoTenantsWithTraffic(database)
        let grant = try database.store().grant(tenant: a)
        let bi = try database.connect(as: grant.role)

        // Read-only by default, and refused by privileges once read-only is switched off.
        #expect(Self.sqlState { try bi.execute("DELETE FROM events.tracks") } != nil)
        try bi.execute("SET default_transaction_read_only = off")
        let writes = [
            "INSERT INTO events.users (tenant_id, id, first_seen_at, last_seen_at) VALUES (\(a), 'intruder', now(), now())",
            "UPDATE events.tracks SET event = 'changed'",
            "DELETE FROM events.users",
            "TRUNCATE events.tracks",
            "CREATE TABLE events.mine (x int)",
            "CREATE TABLE \(grant.schema).mine (x int)",
            "CREATE VIEW \(grant.schema).mine AS SELECT 1 AS x",
            "CREATE TABLE public.mine (x int)",
            "CREATE SCHEMA mine",
            "CREATE FUNCTION inlet_bi.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT inlet.ensure_month_partitions(now())",
            "SET ROLE \(database.owner)",
            "SET SESSION AUTHORIZATION \(database.owner)",
            "SET session_replication_role = replica",
        ]
        for statement in writes {
            #expect(Self.sqlState { try bi.execute(statement) } == SQLState.insufficientPrivilege, "\(statement)")
        }
        // Row security cannot be switched off: a query it would filter is refused instead.
        try bi.execute("SET row_security = off")
        #expect(Self.sqlState { try bi.query("SELECT count(*) FROM events.tracks") } == SQLState.insufficientPrivilege)
        try bi.execute("RESET row_security")
        // The only role it can become is the group, which maps to no tenant.
        try bi.execute("SET ROLE inlet_bi_reader")
        #expect(try Self.count(bi, "SELECT count(*) FROM events.tracks") == 0)
        try bi.execute("RESET ROLE")

        let fresh = try database.connect(as: grant.role)
        func show(_ setting: String) throws -> String? { try fresh.query("SHOW \(setting)").first?.decode(String.self, at: 0) }
        #expect(try show("search_path") == grant.schema)
        #expect(try show("statement_timeout") == "5min")
        #expect(try show("idle_in_transaction_session_timeout") == "5min")
        #expect(try show("default_transaction_read_only") == "on")
        #expect(try Self.count(fresh, "SELECT inlet_bi.current_tenant()") == Int(a))

        // Inlet stores no password: PostgreSQL keeps its SCRAM hash only.
        #expect(grant.password.count >= 24)
        let superuser = try database.superuser()
        let catalog = try #require(
            try superuser.query("SELECT rolpassword, rolconnlimit, rolcanlogin, rolinherit FROM pg_authid WHERE rolname = $1", grant.role).first)
        #expect(try catalog.decode(String.self, at: 0).hasPrefix("SCRAM-SHA-256$"))
        #expect(try catalog.decode(Int.self, at: 1) == 10)
        #expect(try Self.count(
            superuser, "SELECT count(*) FROM inlet.bi_roles b WHERE b::text LIKE '%' || $1 || '%'", grant.password) == 0)
    }

    @Test func theTimeoutsAndTheConnectionLimitHold() async throws {
        let database = try OwnedDatabase("bi_timeout")
        let (tenant, _) = try TenantStore(connection: try database.connect(as: database.owner)).create(name: "Slow")
        var configuration = BIRoleConfiguration()
        configuration.statementTimeout = "300ms"
        configuration.idleInTransactionTimeout = "300ms"
        configuration.connectionLimit = 1
        let grant = try database.store(configuration).grant(tenant: tenant.id)
        let bi = try database.connect(as: grant.role)
        let started = ContinuousClock.now
        #expect(Self.sqlState { try bi.query("SELECT pg_sleep(10)") } == SQLState.queryCanceled)
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(Self.sqlState { _ = try database.connect(as: grant.role) } != nil, "a second session is over the limit")

        // A transaction left open ends the session, and with it its locks.
        try bi.execute("BEGIN; SELECT count(*) FROM events.users")
        try await Task.sleep(for: .seconds(1))
        #expect(throws: PostgresError.self) { try bi.query("SELECT 1") }

        configuration.statementTimeout = "soon"
        #expect(throws: PostgresError.self) { try database.store(configuration).resetPassword(tenant: tenant.id) }
    }

    @Test func theRoleUsesTheTenantIndexAndPrunesMonths() async throws {
        let database = try OwnedDatabase("bi_explain")
        let (a, _) = try await Self.twoTenantsWithTraffic(database)
        let grant = try database.store().grant(tenant: a)
        let bi = try database.connect(as: grant.role)
        func plan(_ sql: String) throws -> String { try bi.query("EXPLAIN " + sql).rows.map { try $0.decode(String.self, at: 0) }.joined(separator: "\n") }

        // The policy's scalar subquery is an InitPlan ($0): computed once, usable in the index.
        try bi.execute("SET enable_seqscan = off")
        let byUser = try plan("SELECT * FROM events.users WHERE id = 'alpha-0'")
        #expect(byUser.contains("Index Cond: ((tenant_id = $0) AND (id = 'alpha-0'::text))"), "\(byUser)")
        try bi.execute("RESET enable_seqscan")
        let day = try #require(
            try bi.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-01'), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-02')").first)
        let oneDay = try plan(
            #"SELECT count(*) FROM events.tracks WHERE "timestamp" >= '\#(try day.decode(String.self, at: 0))' AND "timestamp" < '\#(try day.decode(String.self, at: 1))'"#)
        #expect(oneDay.components(separatedBy: " on tracks_y").count == 2, "one month's partition only: \(oneDay)")
    }

    @Test func revokeBIDropsTheRoleAndEndsItsOpenSessions() async throws {
        let database = try OwnedDatabase("bi_revoke")
        let (tenant, _) = try TenantStore(connection: try database.connect(as: database.owner)).create(name: "Gamma")
        let environment = ["DATABASE_URL": database.ownerURL]
        let granted = try BuiltProducts.run("inlet", ["tenant", "grant-bi", String(tenant.id), "--json"], environment: environment)
        #expect(granted.status == 0, "\(granted.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(granted.output.utf8)) as? [String: Any])
        let role = try #require(object["role"] as? String)
        #expect(object["schema"] as? String == tenant.biSchema)
        #expect((object["password"] as? String)?.count ?? 0 >= 24)
        #expect(role.hasPrefix(tenant.biSchema + "_bi_"))

        let shown = try BuiltProducts.run("inlet", ["tenant", "show", String(tenant.id)], environment: environment)
        #expect(shown.output.contains("BI role       \(role)"), "\(shown.output)")
        let again = try BuiltProducts.run("inlet", ["tenant", "grant-bi", String(tenant.id)], environment: environment)
        #expect(again.status != 0)
        #expect(again.error.contains("already has BI role \(role)"), "\(again.error)")
        let reset = try BuiltProducts.run("inlet", ["tenant", "grant-bi", String(tenant.id), "--reset-password"], environment: environment)
        #expect(reset.status == 0, "\(reset.error)")
        #expect(reset.output.contains("BI role \(role) has a new password"), "\(reset.output)")

        let open = try database.connect(as: role)
        try open.execute("BEGIN; SELECT count(*) FROM events.tracks")
        let revoked = try BuiltProducts.run("inlet", ["tenant", "revoke-bi", String(tenant.id)], environment: environment)
        #expect(revoked.status == 0, "\(revoked.error)")
        #expect(revoked.output.contains("\(role) dropped"))
        #expect(throws: PostgresError.self) { try open.query("SELECT 1") }
        #expect(throws: PostgresError.self) { try database.connect(as: role) }
        let superuser = try database.superuser()
        #expect(try Self.count(superuser, "SELECT count(*) FROM pg_roles WHERE rolname = $1", role) == 0)
        #expect(try Self.count(superuser, "SELECT count(*) FROM inlet.bi_roles") == 0)
        #expect(try Self.count(superuser, "SELECT count(*) FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = $1 AND d.defaclacl::text LIKE '%' || $2 || '%'", tenant.biSchema, role) == 0)
        let audit = try superuser.query("SELECT action FROM inlet.tenant_audit WHERE tenant_id = $1 ORDER BY id", tenant.id)
            .rows.map { try $0.decode(String.self, at: 0) }
        #expect(audit == ["create", "bi_role_granted", "bi_role_password_reset", "bi_role_revoked"])
        #expect(try BuiltProducts.run("inlet", ["tenant", "show", String(tenant.id)], environment: environment).output.contains("BI role       none"))
        #expect(try BuiltProducts.run("inlet", ["tenant", "revoke-bi", String(tenant.id)], environment: environment).status != 0)

        // A new grant after a revoke is a new role with a new name.
        let regranted = try database.store().grant(tenant: tenant.id)
        #expect(regranted.role != role)
    }

    @Test func concurrentGrantsForOneTenantLeaveOneRole() async throws {
        let database = try OwnedDatabase("bi_race")
        let (tenant, _) = try TenantStore(connection: try database.connect(as: database.owner)).create(name: "Race")
        let url = database.ownerURL
        // Role names are the cluster's, and other tests' tenants may have the same names (so the same
        // schema names): this test's roles are told apart by a connection limit no
        // other test uses.
        var unique = BIRoleConfiguration()
        unique.connectionLimit = Int.random(in: 1_000...1_000_000)
        let configuration = unique
        let outcomes = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    do {
                        return try BIRoleStore(connection: TestDatabase.connect(url), configuration: configuration).grant(tenant: tenant.id).role
                    } catch {
                        return nil
                    }
                }
            }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        let winners = outcomes.compactMap { $0 }
        #expect(winners.count == 1, "\(outcomes)")
        let superuser = try database.superuser()
        // The losers' CREATE ROLE was rolled back with their transaction: no orphan role.
        #expect(try Self.count(superuser, "SELECT count(*) FROM pg_roles WHERE rolconnlimit = $1", configuration.connectionLimit) == 1)
        #expect(try superuser.query("SELECT role_name FROM inlet.bi_roles").rows.map { try $0.decode(String.self, at: 0) } == winners)
    }

    @Test func aPasswordResetKeepsTheRoleAndChangesItsHash() async throws {
        let database = try OwnedDatabase("bi_reset")
        let (tenant, _) = try TenantStore(connection: try database.connect(as: database.owner)).create(name: "Delta")
        let store = try database.store()
        let first = try store.grant(tenant: tenant.id)
        let superuser = try database.superuser()
        func hash() throws -> String? { try superuser.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", first.role).first?.decode(at: 0) }
        let before = try hash()
        #expect(throws: BIRoleError.self) { try store.grant(tenant: tenant.id) }
        let second = try store.resetPassword(tenant: tenant.id)
        #expect(second.role == first.role)
        #expect(second.password != first.password)
        #expect(try hash() != before)
        #expect(try hash()?.hasPrefix("SCRAM-SHA-256$") == true)
        #expect(throws: BIRoleError.self) { try store.grant(tenant: 999_999) }
    }

    @Test func grantBIWithoutCreateRoleSaysWhatIsMissing() async throws {
        let database = try OwnedDatabase("bi_nocreaterole")
        let (tenant, _) = try TenantStore(connection: try database.connect(as: database.owner)).create(name: "Epsilon")
        let plain = "inlet_plain_\(UUID().uuidString.prefix(8).lowercased())"
        let superuser = try database.superuser()
        try superuser.execute(
            "CREATE ROLE \(plain) LOGIN; GRANT USAGE ON SCHEMA inlet TO \(plain); GRANT SELECT ON inlet.tenants, inlet.bi_roles TO \(plain)")
        let outcome = try BuiltProducts.run(
            "inlet", ["tenant", "grant-bi", String(tenant.id)], environment: ["DATABASE_URL": database.url(user: plain)])
        #expect(outcome.status != 0)
        #expect(outcome.error.contains("CREATEROLE"), "\(outcome.error)")
    }

    @Test func theAdminAPIGrantsResetsAndRevokesBIRoles() async throws {
        let database = try OwnedDatabase("bi_admin")
        let (tenant, _) = try TenantStore(connection: try database.connect(as: database.owner)).create(name: "Zeta")
        var harness = IngestHarness(databaseURL: database.ownerURL)
        harness.configuration.adminToken = "admin-\(UUID().uuidString)"
        let admin = [("Authorization", "Bearer \(harness.configuration.adminToken ?? "")")]
        let path = "/admin/tenants/\(tenant.id)/bi-role"
        let role = try await harness.run { client in
            #expect(try await client.send(.POST, path).status == 401)
            #expect(try await client.send(.DELETE, path, headers: [("Authorization", "Bearer wrong")]).status == 401)
            let created = try await client.send(.POST, path, headers: admin)
            #expect(created.status == 201, "\(created.body)")
            let role = try #require(created.json["role"] as? String)
            #expect(created.json["schema"] as? String == tenant.biSchema)
            #expect((created.json["password"] as? String)?.count ?? 0 >= 24)
            #expect(created.headers["cache-control"] == "no-store")
            #expect(try await client.send(.POST, path, headers: admin).status == 409)
            let reset = try await client.send(.POST, path, headers: admin, body: #"{"reset_password":true}"#)
            #expect(reset.status == 200)
            #expect(reset.json["role"] as? String == role)
            #expect(try await client.get("/admin/tenants/\(tenant.id)", headers: admin).json["biRole"] as? String == role)
            #expect(try await client.send(.DELETE, path, headers: admin).status == 204)
            #expect(try await client.send(.DELETE, path, headers: admin).status == 404)
            #expect(try await client.send(.POST, "/admin/tenants/999999/bi-role", headers: admin).status == 404)
            #expect(try await client.get("/admin/tenants/\(tenant.id)", headers: admin).json["biRole"] == nil)
            return role
        }
        #expect(try Self.count(try database.superuser(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", role) == 0)
        let actors = try database.superuser().query(
            "SELECT DISTINCT actor FROM inlet.tenant_audit WHERE tenant_id = $1 AND action LIKE 'bi_role_%'", tenant.id)
        #expect(try actors.rows.map { try $0.decode(String.self, at: 0) } == ["admin-api"])
    }

    @Test func theOptionalHardeningTakesAdvisoryLocksAndLargeObjectsFromBIRoles() async throws {
        let database = try OwnedDatabase("bi_hardening")
        let (tenant, _) = try TenantStore(connection: try database.connect(as: database.owner)).create(name: "Eta")
        let grant = try database.store().grant(tenant: tenant.id)
        let bi = try database.connect(as: grant.role)
        // Without it: a BI role can hold the lock that creating a month takes, and write.
        #expect(Self.sqlState { try bi.query("SELECT pg_try_advisory_lock(hashtext('inlet.ensure_month_partitions'), 1)") } == nil)
        #expect(Self.sqlState { try bi.query("SELECT lo_create(0)") } == nil, "even in a read-only session")
        try bi.execute("SELECT pg_advisory_unlock_all()")

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "scripts/bi-hardening.sql")
        let superuser = try database.superuser()
        try superuser.execute(try String(contentsOf: script, encoding: .utf8))
        try superuser.execute(try String(contentsOf: script, encoding: .utf8))  // idempotent

        let after = try database.connect(as: grant.role)
        for statement in [
            "SELECT pg_advisory_lock(1)", "SELECT pg_try_advisory_lock(hashtext('inlet.ensure_month_partitions'), 1)",
            "SELECT pg_advisory_xact_lock(1)", "SELECT lo_create(0)", "SELECT lo_from_bytea(0, 'x')",
        ] {
            #expect(Self.sqlState { try after.query(statement) } == SQLState.insufficientPrivilege, "\(statement)")
        }
        // Inlet's own role keeps them: months are still created, the migrator still locks.
        let owner = try database.connect(as: database.owner)
        #expect(Self.sqlState { try owner.query("SELECT inlet.ensure_month_partitions(now() + interval '5 years')") } == nil)
        try TestDatabase.migrate(database.ownerURL)
    }

    @Test func roleNamesFitPostgresAndKeepOnlySafeCharacters() {
        let long = String(repeating: "a", count: 63)
        #expect(BIRoleStore.roleName(schema: long, suffix: "abcdefghij").utf8.count == 63)
        #expect(BIRoleStore.roleName(schema: "Acme-Corp é", suffix: "abcdefghij") == "acme_corp____bi_abcdefghij")
    }
}

extension IngestHarness {
    /// A harness over an existing database (here one owned by a role that is not superuser).
    init(databaseURL: String) {
        self.databaseURL = databaseURL
        configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, databaseURL: databaseURL, readinessInterval: .milliseconds(200))
        configuration.ingest.tenantRefreshInterval = .milliseconds(200)
        configuration.biRefreshInterval = nil
    }
}
