import CLibPQ
import Synchronization

extension Connection {
    /// What another thread may use to cancel the statement this connection runs (libpq's
    /// `PGcancel`): for a long statement that a shutdown must not wait for.
    public func canceller() throws -> StatementCanceller {
        // A PGcancel is a copy of what cancelling needs (address, backend key), not tied to the
        // connection: libpq documents it for use from another thread. The region checker cannot
        // know that of a C function's result, hence the explicit opt-out for this one value.
        nonisolated(unsafe) let cancel = PQgetCancel(handle)
        if cancel == nil { throw connectionError() }
        return StatementCanceller(cancel)
    }
}

/// Asks the server to cancel whatever statement one connection is running, from any thread
/// (`PQcancel` is safe to call while the connection is in use elsewhere). The statement then
/// fails with SQLSTATE 57014 and its transaction rolls back; with nothing running, nothing happens.
public final class StatementCanceller: Sendable {
    private let handle: Mutex<OpaquePointer?>

    init(_ handle: sending OpaquePointer?) { self.handle = Mutex(handle) }

    deinit {
        handle.withLock { if let cancel = $0 { PQfreeCancel(cancel) } }
    }

    /// Sends the cancel request; false when it could not be sent (the server is unreachable).
    @discardableResult
    public func cancel() -> Bool {
        handle.withLock { cancel in
            guard let cancel else { return false }
            var error = [CChar](repeating: 0, count: 256)
            return PQcancel(cancel, &error, Int32(error.count)) == 1
        }
    }
}
