import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The admin HTTP API (`/admin/...`), present only when `INLET_ADMIN_TOKEN` is set, and the
/// enable flow's callback page.
///
/// Every admin route needs `Authorization: Bearer <INLET_ADMIN_TOKEN>`, compared in constant time.
struct AdminRoutes: Sendable {
    let adminToken: String
    let database: BlockingDatabase
    let integration: String
    /// Public base URL of this service (`INLET_PUBLIC_URL`): where Segment sends the user back to.
    let publicURL: String?
    /// Settings of the BI roles `POST /admin/tenants/{id}/bi-role` creates.
    var bi = BIRoleConfiguration()

    func register(on router: Router<some RequestContext>) {
        let admin = router.group("admin/tenants")
        admin.post { request, context in
            try authorize(request)
            let input = try await request.decode(as: CreateInput.self, context: context)
            guard !input.name.isEmpty else { throw HTTPError(.badRequest, message: "name is required") }
            let (tenant, token) = try await store { store in
                let created = try store.create(name: input.name, redirectURL: input.redirect_url, biSchema: input.bi_schema, actor: .adminAPI)
                // The views exist from the start (empty), so BI tools can connect before data
                // comes. Best effort: the tenant is created and its token must be answered
                // whatever happens here; the server's next refresh creates the views anyway.
                _ = try? BIRefresh(connection: store.connection).refresh(tenantID: created.0.id)
                return created
            }
            return EditedResponse(status: .created, response: JSONResponse(try issued(tenant, token)))
        }
        admin.get { request, _ in
            try authorize(request)
            return JSONResponse(try await store { try $0.list() })
        }
        admin.get(":id") { request, context in
            try authorize(request)
            let id = try tenantID(context)
            return JSONResponse(try await store { try $0.show(id: id) })
        }
        admin.post(":id/rotate") { request, context in
            try authorize(request)
            let id = try tenantID(context)
            let input = try? await request.decode(as: RotateInput.self, context: context)
            let grace = Duration.seconds(input?.grace_seconds ?? 86_400)
            let (token, tenant) = try await store { store in
                let (token, _) = try store.rotate(id: id, grace: grace, actor: .adminAPI)
                return (token, try store.show(id: id).tenant)
            }
            return JSONResponse(try issued(tenant, token))
        }
        admin.post(":id/disable") { request, context in
            try authorize(request)
            let id = try tenantID(context)
            return JSONResponse(try await store { try $0.setEnabled(id: id, false, actor: .adminAPI) })
        }
        admin.post(":id/enable") { request, context in
            try authorize(request)
            let id = try tenantID(context)
            return JSONResponse(try await store { try $0.setEnabled(id: id, true, actor: .adminAPI) })
        }
        // The enable flow. POST issues a token for Segment and answers 303 to Segment's enable
        // page (the URL is in the body too, for a backend that hands it to the browser itself):
        // the token goes straight into the URL, so no person ever sees it. The tenant's earlier
        // tokens keep working until Segment first sends with the new one, then for a day more,
        // so an abandoned or repeated flow never breaks the integration (TenantStore+EnableFlow).
        admin.post(":id/enable-flow") { request, context in
            try authorize(request)
            let id = try tenantID(context)
            let (token, tenant) = try await store { store in
                (try store.startEnableFlow(id: id), try store.show(id: id).tenant)
            }
            let location = EnableURL(integration: integration, token: token, redirectURL: callbackURL(for: tenant)).url
            return EditedResponse(
                status: .seeOther, headers: [.location: location, .cacheControl: "no-store"],
                response: JSONResponse(EnableFlowStarted(id: tenant.id, enable_url: location)))
        }
        // A read-only PostgreSQL login role for the tenant's BI tools (BIRoleStore). 201 with
        // the password, shown once; `{"reset_password": true}` gives an existing role a new one
        // (200) instead of answering 409.
        admin.post(":id/bi-role") { request, context in
            try authorize(request)
            let id = try tenantID(context)
            let reset = (try? await request.decode(as: BIRoleInput.self, context: context))?.reset_password ?? false
            let bi = bi
            let (credentials, created) = try await database.withConnection { connection in
                let store = BIRoleStore(connection: connection, configuration: bi)
                return reset ? try store.grantOrResetPassword(tenant: id, actor: .adminAPI) : (try store.grant(tenant: id, actor: .adminAPI), true)
            }
            return EditedResponse(
                status: created ? .created : .ok, headers: [.cacheControl: "no-store"], response: JSONResponse(credentials))
        }
        admin.delete(":id/bi-role") { request, context -> Response in
            try authorize(request)
            let id = try tenantID(context)
            _ = try await database.withConnection { try BIRoleStore(connection: $0).revoke(tenant: id, actor: .adminAPI) }
            return Response(status: .noContent)
        }
        // GET must change nothing (a link preview, a prefetch or a crawler would otherwise issue
        // tokens). `GET .../enable` started the flow before; it is answered the same way, so an
        // old caller learns where the flow went instead of getting a 404.
        for path in [":id/enable-flow", ":id/enable"] {
            admin.get(RouterPath(path)) { request, _ -> Response in
                try authorize(request)
                throw HTTPError(
                    .methodNotAllowed, headers: [.allow: "POST"],
                    message: "start the enable flow with POST /admin/tenants/{id}/enable-flow")
            }
        }

        registerErasure(on: router)

        router.get("enable/callback") { request, _ in
            guard let id = request.uri.queryParameters.get("tenant", as: Int64.self),
                let signature = request.uri.queryParameters.get("signature"),
                constantTimeEqual(signature, callbackSignature(id))
            else { throw HTTPError(.notFound) }
            let tenant = try await store { try $0.recordEnableCompleted(id: id) }
            return HTMLPage.enableCompleted(tenant: tenant)
        }
    }

    // MARK: - Pieces

    struct CreateInput: Decodable {
        let name: String
        let redirect_url: String?
        let bi_schema: String?
    }

    struct RotateInput: Decodable {
        let grace_seconds: Int64?
    }

    struct BIRoleInput: Decodable {
        let reset_password: Bool?
    }

    struct EnableFlowStarted: Encodable {
        let id: Int64
        let enable_url: String
    }

    struct Issued: Encodable {
        let id: Int64
        let name: String
        let token: String
        let enable_url: String
        let bi_schema: String
    }

    private func issued(_ tenant: Tenant, _ token: TenantToken) throws -> Issued {
        Issued(
            id: tenant.id, name: tenant.name, token: token.value,
            enable_url: EnableURL(integration: integration, token: token, redirectURL: callbackURL(for: tenant)).url,
            bi_schema: tenant.biSchema)
    }

    /// Segment returns the user to our callback when the public URL is known (so completion is
    /// recorded), else straight to the tenant's own redirect URL.
    private func callbackURL(for tenant: Tenant) -> String? {
        guard let publicURL else { return tenant.redirectURL }
        let base = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        return "\(base)/enable/callback?tenant=\(tenant.id)&signature=\(callbackSignature(tenant.id))"
    }

    /// HMAC of the tenant id under the admin token: the callback cannot be forged for another tenant.
    private func callbackSignature(_ id: Int64) -> String {
        let key = SymmetricKey(data: Data(adminToken.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("inlet-enable-callback:\(id)".utf8), using: key)
        return TenantToken.base64URL(Array(mac))
    }

    func authorize(_ request: Request) throws {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            constantTimeEqual(String(header.dropFirst("Bearer ".count)), adminToken)
        else {
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "admin token required")
        }
    }

    func tenantID(_ context: some RequestContext) throws -> Int64 {
        try context.parameters.require("id", as: Int64.self)
    }

    private func store<T: Sendable>(_ body: @escaping @Sendable (TenantStore) throws -> T) async throws -> T {
        do {
            return try await database.withConnection { try body(TenantStore(connection: $0)) }
        } catch let error as TenantError {
            throw HTTPError(error.isNotFound ? .notFound : .badRequest, message: error.description)
        }
    }
}

/// Compares two secrets in time that depends only on their lengths' hashes, not on where they
/// first differ: both sides are hashed, then every byte is compared.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let left = Array(SHA256.hash(data: Data(a.utf8)))
    let right = Array(SHA256.hash(data: Data(b.utf8)))
    var difference: UInt8 = 0
    for index in 0..<left.count { difference |= left[index] ^ right[index] }
    return difference == 0
}

/// An Encodable value answered as JSON.
struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator {
    let value: Value
    init(_ value: Value) { self.value = value }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder.sorted.encode(value))))
    }
}
