import Foundation
import PostgresClient
import Synchronization

/// Runs blocking `body` on a thread started for the call: never on an event loop, nor on NIO's
/// shared pool (two threads), where a long erasure step or a DETACH waiting for readers would
/// hold a thread every other blocking call of the process needs. The thread ends with the call.
func onThreadOfItsOwn<T: Sendable>(named name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = name
        thread.start()
    }
}

/// Runs long blocking work in steps on a thread of its own, stopped when the calling task is
/// cancelled (graceful shutdown cancels a service's loop): `body` asks its ``StopRequest``
/// between steps, and the statement running on a connection it registered is cancelled, so a
/// step that reads a large month, or waits for a lock, does not hold up the shutdown. A
/// cancelled step rolls back; the work resumes from what was committed.
func stepsUntilCancelled<T: Sendable>(thread name: String, _ body: @escaping @Sendable (StopRequest) throws -> T) async throws -> T {
    let stop = StopRequest()
    return try await withTaskCancellationHandler {
        try await onThreadOfItsOwn(named: name) { try body(stop) }
    } onCancel: {
        stop.request()
    }
}

/// Whether work running in steps is asked to stop, and the connections whose statements are
/// then cancelled.
final class StopRequest: Sendable {
    private let state = Mutex<(requested: Bool, cancellers: [StatementCanceller])>((false, []))

    var isRequested: Bool { state.withLock { $0.requested } }

    /// Cancels `connection`'s running statement when a stop is requested.
    func cancelsStatements(of connection: Connection) throws {
        let canceller = try connection.canceller()
        let alreadyRequested = state.withLock { state in
            state.cancellers.append(canceller)
            return state.requested
        }
        // A stop requested before the connection was registered still reaches it.
        if alreadyRequested { canceller.cancel() }
    }

    func request() {
        let cancellers = state.withLock { state in
            state.requested = true
            return state.cancellers
        }
        for canceller in cancellers { canceller.cancel() }
    }
}
