/// Why an ingest request was answered 503: the `reason` label of `inlet_responses_503_total`,
/// so that an operator can tell overload (queue, body budget) from an outage (database) and
/// from a deploy (shutting down, tenants not loaded yet).
enum UnavailableReason: String, CaseIterable, Sendable {
    case queueFull = "queue_full"
    case databaseUnavailable = "database_unavailable"
    case databaseError = "database_error"
    case bodyBudget = "body_budget"
    case shuttingDown = "shutting_down"
    case tenantsNotLoaded = "tenants_not_loaded"
}
