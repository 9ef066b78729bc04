import Foundation
import InletServer
import InletTestSupport
import PostgresClient
import Synchronization
import Testing

/// The background work analysts depend on (BI refreshes) runs while clients send at full
/// speed, and not one request gets a 503 for it.
@Suite struct BackgroundWorkUnderLoadTests {
    @Test func refreshesDuringALoadTestCauseNo503() async throws {
        let harness = try IngestHarness("under_load")
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
        // After a last refresh every event has its view and every message is in it.
        let connection = try harness.connect()
        _ = try BIRefresh(connection: connection).refresh(tenantID: tenant.id)
        let inViews = try connection.query(
            (0..<12).map { "SELECT count(*) FROM under_load.event_\($0)" }.joined(separator: " UNION ALL ")
        ).rows.reduce(0) { $0 + (try $1.decode(Int.self, at: 0)) }
        #expect(inViews == sent)
        #expect(try connection.query("SELECT count(*) FROM under_load.tracks").first?.decode(Int.self, at: 0) == sent)
    }
}

/// Counts of values seen by concurrent tasks.
final class Tally: Sendable {
    private let seen = Mutex<[Int: Int]>([:])

    func add(_ value: Int) { seen.withLock { $0[value, default: 0] += 1 } }
    var counts: [Int: Int] { seen.withLock { $0 } }
}
