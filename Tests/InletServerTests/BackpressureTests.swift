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
