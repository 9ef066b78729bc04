import Foundation
import InletServer
import Testing

/// What an operator alerts on, read from GET /metrics over a real socket after requests that
/// end in various statuses.
@Suite struct MetricsTests {
    /// The value of the sample line `name{labels}` (exactly), or nil when it is not exposed.
    func sample(_ exposition: String, _ series: String) -> Double? {
        for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func responsesAreCountedByRouteAndStatusWithLatencyAndRefusalsByReason() async throws {
        // A tiny in-flight budget, so that a slow upload makes the next request a 503 (body_budget).
        let harness = try IngestHarness("metrics_http") { $0.maxInFlightBodyBytes = 1_024 }
        let (_, token) = try harness.tenant()
        try await harness.run { client in
            #expect(try await client.post("/v1/batch", json: Messages.batch([Messages.track()]), token: token).status == 200)
            #expect(try await client.post("/v1/batch", json: Messages.batch([Messages.track()]), token: token).status == 200)
            #expect(try await client.post("/v1/batch", json: Messages.batch([Messages.track()])).status == 401)
            #expect(try await client.post("/v1/track", json: "{not json", token: token).status == 400)
            #expect(try await client.get("/no/such/route/\(UUID().uuidString)").status == 404)

            let message = Array(Messages.array((0..<20).map { _ in Messages.track() }).utf8)
            let slow = try RawSocket(port: client.port)
            defer { slow.close() }
            try slow.send(RawSocket.postHead(token: token, "Content-Length: \(message.count)\r\n") + message.prefix(100))
            // The slow upload holds the budget from its headers on; poll until the refusal shows.
            #expect(try await eventually { try await client.post("/", json: Messages.track(), token: token).status == 503 })
            try slow.send(Array(message.dropFirst(100)))
            #expect(try await slow.readResponse(timeout: .seconds(10)).hasPrefix("HTTP/1.1 200"))

            let metrics = try await client.get("/metrics").body
            #expect(sample(metrics, #"inlet_http_responses_total{route="/v1/batch",status="200"}"#) == 2)
            #expect(sample(metrics, #"inlet_http_responses_total{route="/v1/batch",status="401"}"#) == 1)
            #expect(sample(metrics, #"inlet_http_responses_total{route="/v1/track",status="400"}"#) == 1)
            // The slow upload, and any request that got in before it held the budget.
            let rootCommitted = try #require(sample(metrics, #"inlet_http_responses_total{route="/",status="200"}"#))
            #expect((sample(metrics, #"inlet_http_responses_total{route="/",status="503"}"#) ?? 0) >= 1)
            // Unmatched paths share one label value: no series per URL.
            #expect(!metrics.contains("/no/such/route"))
            #expect(sample(metrics, #"inlet_http_responses_total{route="NotFound",status="404"}"#) == 1)

            // Latency, a histogram per route: three /v1/batch requests, in cumulative buckets.
            #expect(sample(metrics, #"inlet_http_request_duration_seconds_count{route="/v1/batch"}"#) == 3)
            #expect(sample(metrics, #"inlet_http_request_duration_seconds_bucket{route="/v1/batch",le="+Inf"}"#) == 3)
            #expect(metrics.contains(#"inlet_http_request_duration_seconds_bucket{route="/v1/batch",le="0.005"}"#))

            // Every committed request waited in the queue once.
            #expect(sample(metrics, "inlet_queue_wait_seconds_count") == 2 + rootCommitted)
            #expect(sample(metrics, #"inlet_queue_wait_seconds_bucket{le="+Inf"}"#) == 2 + rootCommitted)

            // 503s by reason, every reason exposed from the start.
            #expect((sample(metrics, #"inlet_responses_503_total{reason="body_budget"}"#) ?? 0) >= 1)
            for reason in ["queue_full", "database_unavailable", "shutting_down", "tenants_not_loaded"] {
                #expect(sample(metrics, #"inlet_responses_503_total{reason="\#(reason)"}"#) == 0, "\(reason)")
            }
            #expect(metrics.contains("# TYPE inlet_commit_duration_seconds histogram"))
        }
    }
}
