import Hummingbird

extension AdminRoutes {
    /// `POST /admin/tenants/{id}/erase-user` `{"user_id": ...}`: records an erasure request
    /// (carried out by the server's erasure worker) and answers 202 with it;
    /// `GET /admin/deletes[?tenant=ID]`: every request's progress, as `inlet deletes list --json`.
    func registerErasure(on router: Router<some RequestContext>) {
        router.post("admin/tenants/:id/erase-user") { request, context in
            try authorize(request)
            let id = try tenantID(context)
            let input = try await request.decode(as: EraseUserInput.self, context: context)
            let recorded = try await erasureRequests { try $0.record(tenant: id, userID: input.user_id, source: .adminAPI) }
            return EditedResponse(status: .accepted, response: JSONResponse(recorded))
        }
        router.get("admin/deletes") { request, _ in
            try authorize(request)
            let tenant = request.uri.queryParameters.get("tenant", as: Int64.self)
            return JSONResponse(try await erasureRequests { try $0.list(tenant: tenant) })
        }
    }

    struct EraseUserInput: Decodable {
        let user_id: String
    }

    private func erasureRequests<T: Sendable>(_ body: @escaping @Sendable (ErasureRequestStore) throws -> T) async throws -> T {
        do {
            return try await database.withConnection { try body(ErasureRequestStore(connection: $0)) }
        } catch let error as TenantError where error.isNotFound {
            throw HTTPError(.notFound, message: error.description)
        } catch let error as ErasureError {
            throw HTTPError(.badRequest, message: error.description)
        }
    }
}
