import Foundation
import InletServer
import InletTestSupport
import PostgresClient
import Testing

/// The queue's bounds, shown by holding the single writer on a table lock so that requests
/// pile up exactly as they would behind a slow database.
@Suite struct BackpressureTests {
    func blockWrites(_ harness: IngestHarness) throws -> Connection {
        let lock = try harness.connect()
        try lock.execute("BEGIN; LOCK TABLE events.tracks IN ACCESS EXCLUSIVE MODE")
        return lock
    }

    func fiveTracks() -> String { Messages.array((0..<5).map { _ in Messages.track() }) }

    @Test func aFullQueueAnswers503WithRetryAfterAtOnce() async throws {
        let harness = try IngestHarness("queue_full") {
            $0.queueMaxMessages = 10
            $0.tenantQueueShare = 1
            $0.writers = 1
        }
        let (tenant, token) = try harness.tenant()
        try await harness.run { client in
            #expect(try await client.post("/", json: fiveTracks(), token: token).status == 200)  // writer warmed up
            let lock = try blockWrites(harness)
            let first = Task { try await client.post("/", json: fiveTracks(), token: token) }
            try await Task.sleep(for: .milliseconds(300))
            let second = Task { try await client.post("/", json: fiveTracks(), token: token) }
            try await Task.sleep(for: .milliseconds(300))

            let started = ContinuousClock.now
            let refused = try await client.post("/", json: fiveTracks(), token: token)
            #expect(refused.status == 503)
            #expect(refused.headers["retry-after"] != nil)
            #expect(ContinuousClock.now - started < .seconds(3))  // at once: not after the 10 s queue timeout

            try lock.execute("COMMIT")
            #expect(try await first.value.status == 200)
            #expect(try await second.value.status == 200)
        }
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 15)
    }

    @Test func aFloodingTenantGets429WhileAnotherGetsIn() async throws {
        let harness = try IngestHarness("tenant_share") {
            $0.queueMaxMessages = 20
            $0.tenantQueueShare = 0.5
            $0.writers = 1
        }
        let flooding = try harness.tenant("flooding")
        let other = try harness.tenant("other")
        try await harness.run { client in
            #expect(try await client.post("/", json: fiveTracks(), token: flooding.token).status == 200)
            let lock = try blockWrites(harness)
            let first = Task { try await client.post("/", json: fiveTracks(), token: flooding.token) }
            try await Task.sleep(for: .milliseconds(300))
            let second = Task { try await client.post("/", json: fiveTracks(), token: flooding.token) }
            try await Task.sleep(for: .milliseconds(300))

            let refused = try await client.post("/", json: fiveTracks(), token: flooding.token)
            #expect(refused.status == 429)
            #expect(refused.headers["retry-after"] != nil)
            let otherTenant = Task { try await client.post("/", json: fiveTracks(), token: other.token) }
            try await Task.sleep(for: .milliseconds(200))

            try lock.execute("COMMIT")
            #expect(try await first.value.status == 200)
            #expect(try await second.value.status == 200)
            #expect(try await otherTenant.value.status == 200)
        }
        #expect(try harness.connect().count("events.tracks", tenant: other.id) == 5)
    }
}

/// Bodies still being received count against memory too: past the in-flight body budget a
/// request is refused with 503 at once.
@Suite struct BodyBudgetTests {
    @Test func bodiesInFlightPastTheBudgetGet503() async throws {
        let harness = try IngestHarness("body_budget") { $0.maxInFlightBodyBytes = 1_024 }
        let (tenant, token) = try harness.tenant()
        try await harness.run { client in
            // A slow client holds a reservation (twice its 2.8 KB body) while the body trickles in.
            let message = Array(Messages.array((0..<20).map { _ in Messages.track() }).utf8)
            let slow = try RawSocket(port: client.port)
            defer { slow.close() }
            try slow.send(RawSocket.postHead(token: token, "Content-Length: \(message.count)\r\n") + message.prefix(100))
            try await Task.sleep(for: .milliseconds(300))

            let refused = try await client.post("/", json: Messages.track(), token: token)
            #expect(refused.status == 503)
            #expect(refused.headers["retry-after"] != nil)

            try slow.send(Array(message.dropFirst(100)))
            let response = try await slow.readResponse(timeout: .seconds(10))
            #expect(response.hasPrefix("HTTP/1.1 200"), "\(response.prefix(200))")
            // Once it is parsed, the budget is free again.
            #expect(try await client.post("/", json: Messages.track(), token: token).status == 200)
        }
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 21)
    }

    @Test func aChunkedBodyIsReservedAsItArrives() async throws {
        let harness = try IngestHarness("body_budget_chunked") { $0.maxInFlightBodyBytes = 64 * 1024 }
        let (tenant, token) = try harness.tenant()
        try await harness.run { client in
            let message = Array(Messages.array((0..<20).map { _ in Messages.track() }).utf8)
            let basic = "Basic " + Data("\(token):".utf8).base64EncodedString()
            let head = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: \(basic)\r\n"
            // One request holds part of the budget while its body trickles in...
            let slow = try RawSocket(port: client.port)
            defer { slow.close() }
            try slow.send(Array((head + "Content-Length: \(message.count)\r\n\r\n").utf8) + message.prefix(100))
            try await Task.sleep(for: .milliseconds(300))
            // ...and a chunked one, whose size is unknown until it ends, still fits: it is not
            // counted as the largest body allowed (8 MiB) but as what it sends.
            let chunked = try RawSocket(port: client.port)
            defer { chunked.close() }
            let other = Array(Messages.array((0..<20).map { _ in Messages.track() }).utf8)
            let halves = [other.prefix(other.count / 2), other.dropFirst(other.count / 2)]
            var bytes = Array((head + "Transfer-Encoding: chunked\r\n\r\n").utf8)
            for half in halves { bytes += Array((String(half.count, radix: 16) + "\r\n").utf8) + half + Array("\r\n".utf8) }
            try chunked.send(bytes + Array("0\r\n\r\n".utf8))
            let answer = try await chunked.readResponse(timeout: .seconds(10))
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(200))")
            try slow.send(Array(message.dropFirst(100)))
            #expect(try await slow.readResponse(timeout: .seconds(10)).hasPrefix("HTTP/1.1 200"))
        }
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 40)
    }
}

/// One body of the largest allowed sizes always fits the in-flight budget when nothing else is
/// in flight: the budget bounds concurrency, it never refuses a lone request forever.
@Suite struct LargeBodyTests {
    @Test func aGzipBodyInflatingTo20MiBIsAcceptedOnAnIdleServer() async throws {
        let harness = try IngestHarness("large_gzip")  // default limits: 8 MiB, 32 MiB, 32 MiB in flight
        let (tenant, token) = try harness.tenant()
        // 10,000 messages (the most a body may hold) of about 2 KiB: about 20 MiB once inflated,
        // under the 32 MiB limit, but more than the budget once its rows are counted too.
        let padding = String(repeating: "x", count: 2_100)
        let json = Messages.array(
            (0..<10_000).map { #"{"type":"track","messageId":"large-\#($0)","userId":"u","event":"E","properties":{"pad":"\#(padding)"}}"# })
        #expect(json.utf8.count > 20 * 1024 * 1024 && json.utf8.count < 32 * 1024 * 1024)
        let body = Messages.gzip(Array(json.utf8))
        try await harness.run { client in
            let answer = try await client.post("/", body, token: token, headers: [("Content-Encoding", "gzip")])
            #expect(answer.status == 200, "\(answer.body.prefix(300))")
            #expect(answer.json["accepted"] as? Int == 10_000)
        }
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 10_000)
    }
}
