import Foundation
import InletTestSupport
import PostgresClient
import Testing

@Suite struct CancelTests {
    /// A statement blocked on the server is cancelled from another thread: it fails with 57014
    /// at once, and the connection stays usable.
    @Test func aRunningStatementIsCancelledFromAnotherThread() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        let canceller = try connection.canceller()
        let timer = Thread {
            Thread.sleep(forTimeInterval: 0.3)
            canceller.cancel()
        }
        timer.start()
        let started = Date()
        #expect {
            try connection.query("SELECT pg_sleep(30)")
        } throws: { ($0 as? PostgresError)?.sqlState == SQLState.queryCanceled }
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(try connection.query("SELECT 1").first?.decode(Int.self, at: 0) == 1)
        #expect(canceller.cancel(), "nothing running: nothing to cancel, still sent")
    }
}
