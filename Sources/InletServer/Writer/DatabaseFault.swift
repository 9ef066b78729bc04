import PostgresClient

/// Whose fault a database error is, which decides what the writer does with the batch.
///
/// Only an error that belongs to one row may send a batch into bisection and the row into the
/// quarantine. Anything else (privileges, disk full, out of memory, timeouts, a read-only server
/// after a failover, too many connections, a schema that does not match) says nothing about the
/// messages: their requests get 503 and are retried, and nothing is quarantined.
enum DatabaseFault: Equatable {
    /// The connection is unusable: reconnect; the batch's requests get 503.
    case connectionLost
    /// A deadlock or serialisation conflict: the same transaction again may well succeed.
    case conflict
    /// Data exceptions (class 22), integrity violations (class 23) and program limits such as a
    /// row too large (class 54): some row of the batch is refused by this database.
    case row
    /// The database's own trouble: 503 for every request of the batch.
    case systemic

    init(_ error: PostgresError) {
        if error.isConnectionFailure {
            self = .connectionLost
            return
        }
        guard let state = error.sqlState else {
            self = .systemic
            return
        }
        if state == SQLState.deadlockDetected || state == SQLState.serializationFailure {
            self = .conflict
        } else if state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("54") {
            self = .row
        } else {
            self = .systemic
        }
    }
}
