import Foundation
import InletServer
import InletTestSupport
import PostgresClient
import Synchronization
import Testing

/// The background work analysts depend on (BI refreshes, erasures) runs while clients send at
/// full speed, and not one request gets a 503 for it.
@Suite struct BackgroundWorkUnderLoadTests {
    @Test func refreshesAndErasuresDuringALoadTestCauseNo503() async throws {
        var harness = try IngestHarness("under_load")
        harness.configuration.erasure.interval = .milliseconds(200)
        let tenant = try harness.tenant("Under Load")
        let url = harness.databaseURL
        let statuses = Tally()
        let refreshes = Tally()
        let sent = try await harness.run { client async throws -> Int in
            let deadline = ContinuousClock.now + .seconds(8)
            return try await withThrowingTaskGroup(of: Int.self) { group in
                // Eight clients sending batches of 50; every round brings new events and
                // properties, so each refresh has views to create and replace.
                for worker in 0..<8 {
                    group.addTask {
                        var round = 0
                        while ContinuousClock.now < deadline {
                            let messages = (0..<50).map { n in
                                #"{"type":"track","messageId":"w\#(worker)-\#(round)-\#(n)","userId":"u\#(n)","event":"Event \#(round % 12)","properties":{"p\#(round % 30)":\#(n),"amount":\#(n).5}}"#
                            }
                            let status = try await client.post("/", json: Messages.array(messages), token: tenant.token).status
                            statuses.add(status)
                            round += 1
                        }
                        return round * 50
                    }
                }
                // Erasures of users whose rows keep arriving (each batch has u0..u49).
                group.addTask {
                    let connection = try TestDatabase.connect(url)
                    for user in ["u7", "u13", "u21"] {
                        try await Task.sleep(for: .seconds(2))
                        let request = try ErasureRequestStore(connection: connection).record(tenant: tenant.id, userID: user, source: .cli)
                        #expect(try await eventually(.seconds(20)) {
                            try ErasureRequestStore(connection: connection).find(tenant: tenant.id, messageID: request.messageID)?.state == .done
                        }, "erasure of \(user)")
                    }
                    return 0
                }
                group.addTask {
                    let connection = try TestDatabase.connect(url)
                    while ContinuousClock.now < deadline {
                        _ = try BIRefresh(connection: connection).refresh(tenantID: tenant.id)
                        refreshes.add(0)
                        try await Task.sleep(for: .milliseconds(300))
                    }
                    return 0
                }
                return try await group.reduce(0, +)
            }
        }
        let answered = statuses.counts
        #expect(answered.keys.sorted() == [200], "statuses: \(answered)")
        #expect(refreshes.counts[0, default: 0] >= 3)
        // After a last refresh every event has its view, with a column for every property its
        // messages had (discovery missed nothing committed during the load), and every stored
        // message is in it.
        let connection = try harness.connect()
        _ = try BIRefresh(connection: connection).refresh(tenantID: tenant.id)
        // (A slow machine sends fewer rounds, hence fewer of the 12 events.)
        let events = try connection.query("SELECT DISTINCT event FROM events.tracks WHERE tenant_id = $1", tenant.id).rows.map {
            try $0.decode(String.self, at: 0)
        }
        #expect(!events.isEmpty)
        for event in events {
            let expected = try connection.query(
                "SELECT DISTINCT jsonb_object_keys(properties) FROM events.tracks WHERE tenant_id = $1 AND event = $2", tenant.id, event
            ).rows.map { try $0.decode(String.self, at: 0) }
            let columns = try connection.query(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'under_load' AND table_name = $1", event
            ).rows.map { try $0.decode(String.self, at: 0) }
            #expect(!expected.isEmpty && Set(expected).isSubset(of: Set(columns)), "\(event): \(expected) in \(columns)")
        }
        let stored = try connection.query("SELECT count(*) FROM events.tracks WHERE tenant_id = $1", tenant.id).first?.decode(Int.self, at: 0) ?? -1
        #expect(try connection.query("SELECT count(*) FROM under_load.tracks").first?.decode(Int.self, at: 0) == stored)
        // The erased users' rows committed before their erasure are gone; later ones may be back.
        #expect(stored < sent && stored > sent / 2)
    }
}

/// Counts of values seen by concurrent tasks.
final class Tally: Sendable {
    private let seen = Mutex<[Int: Int]>([:])

    func add(_ value: Int) { seen.withLock { $0[value, default: 0] += 1 } }
    var counts: [Int: Int] { seen.withLock { $0 } }
}
