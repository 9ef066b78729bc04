import Foundation
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

/// Runs long blocking work in steps on a thread of its own: once the calling task is cancelled
/// (graceful shutdown cancels a service's loop), the `shouldStop` that `body` is given answers
/// true, and `body` stops at its next step instead of holding up the shutdown.
func stepsUntilCancelled<T: Sendable>(
    thread name: String, _ body: @escaping @Sendable (_ shouldStop: @escaping @Sendable () -> Bool) throws -> T
) async throws -> T {
    let stop = StopFlag()
    return try await withTaskCancellationHandler {
        try await onThreadOfItsOwn(named: name) { try body { stop.isSet } }
    } onCancel: {
        stop.set()
    }
}

private final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}
