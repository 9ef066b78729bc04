import Hummingbird

/// Counts every HTTP response by route and status and records its latency (README, "Metrics").
///
/// Hummingbird's own `MetricsMiddleware` reports to the global MetricsSystem, which Inlet does
/// not use (each application has its own registry, see ``IngestMetrics``). Errors thrown by a
/// route become responses after the middleware chain, so they are counted here by the status
/// they will be answered with; ingest refusals also count under `inlet_responses_503_total`
/// by reason and `inlet_responses_429_total`, at the one place every answer passes.
///
/// The latency is the time to the answer being handed to Hummingbird: Inlet's answers are small
/// buffers, written at once.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: IngestMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(context: context, status: response.status, since: started)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            if let refusal = error as? IngestError {
                if let reason = refusal.unavailableReason { metrics.countUnavailable(reason) }
                if status == .tooManyRequests { metrics.countTooManyRequests() }
            }
            record(context: context, status: status, since: started)
            throw error
        }
    }

    private func record(context: Context, status: HTTPResponse.Status, since started: ContinuousClock.Instant) {
        // The router sets the matched pattern (`/v1/batch`, `/admin/tenants/{id}`), or
        // "NotFound"; never the raw path, which would make a label value per URL.
        metrics.recordResponse(route: context.endpointPath ?? "unmatched", status: status, duration: .now - started)
    }
}
