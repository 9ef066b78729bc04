import Hummingbird

/// `GET /healthz` (the process runs) and `GET /readyz` (it can take traffic).
struct HealthRoutes {
    let readiness: Readiness
    /// False while the writers cannot reach the database (they notice before the next check).
    let databaseWritable: @Sendable () -> Bool
    /// False until tenant tokens were first loaded.
    let tenantsLoaded: @Sendable () -> Bool

    func register(on router: Router<some RequestContext>) {
        router.get("healthz") { _, _ in
            JSONBody(["status": "ok"])
        }
        router.get("readyz") { _, _ in
            switch readiness.state {
            case .ready where !tenantsLoaded():
                return EditedResponse(status: .serviceUnavailable, response: JSONBody(["message": "starting"]))
            case .ready where !databaseWritable():
                return EditedResponse(status: .serviceUnavailable, response: JSONBody(["message": "database unavailable"]))
            case .ready:
                return EditedResponse(status: .ok, response: JSONBody(["status": "ready"]))
            case .starting:
                return EditedResponse(status: .serviceUnavailable, response: JSONBody(["message": "starting"]))
            case .schemaNotCurrent:
                return EditedResponse(
                    status: .serviceUnavailable,
                    response: JSONBody(["message": "the database schema is not current: run `migrator up`"]))
            case .databaseUnavailable:
                // The reason is logged, not sent: it may name hosts or users.
                return EditedResponse(status: .serviceUnavailable, response: JSONBody(["message": "database unavailable"]))
            }
        }
    }
}

/// A small JSON object answer.
struct JSONBody: ResponseEncodable {
    let fields: [String: String]
    init(_ fields: [String: String]) { self.fields = fields }

    func encode(to encoder: any Encoder) throws {
        try fields.encode(to: encoder)
    }
}
