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
            let (ready, message) = answer()
            return EditedResponse(
                status: ready ? .ok : .serviceUnavailable,
                response: JSONBody(ready ? ["status": "ready"] : ["message": message]))
        }
    }

    /// Whether `/readyz` answers 200 now, and if not, what it says.
    func answer() -> (ready: Bool, message: String) {
        switch readiness.state {
        case .ready where !tenantsLoaded(): (false, "starting")
        case .ready where !databaseWritable(): (false, "database unavailable")
        case .ready: (true, "ready")
        case .starting: (false, "starting")
        case .schemaNotCurrent: (false, "the database schema is not current: run `migrator up`")
        // The reason is logged, not sent: it may name hosts or users.
        case .databaseUnavailable: (false, "database unavailable")
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
