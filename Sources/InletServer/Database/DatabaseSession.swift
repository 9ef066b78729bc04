import Foundation
import PostgresClient
import Synchronization

/// A long-lived connection for one background service (readiness checks, token reloads,
/// settings writes), so that a service ticking every second does not connect every second.
///
/// Work runs on a thread of its own per call, never on an event loop. One call at a time uses the session's
/// connection; a call made while another runs (or is stuck) connects for itself and closes that
/// connection after it, so only one is kept. A call that fails because the connection broke (the
/// server restarted, an operator ran `pg_terminate_backend`) drops it; the next call connects
/// again.
public final class DatabaseSession: Sendable {
    private let url: String
    private let applicationName: String
    private let callTimeout: Duration
    private let idle = Mutex<Connection?>(nil)

    /// - Parameters:
    ///   - applicationName: what `pg_stat_activity` shows for the session, so an operator can
    ///     tell the services' connections apart (unless the URL sets its own).
    ///   - callTimeout: how long a caller waits for a call (see ``withConnection(_:)``).
    public init(url: String, applicationName: String, callTimeout: Duration = .seconds(5)) {
        self.url = url
        self.applicationName = applicationName
        self.callTimeout = callTimeout
    }

    /// Runs `body` with the session's connection (connecting first when there is none) on a
    /// thread of its own.
    ///
    /// Throws ``Timeout`` when the call has not finished within the session's timeout: a frozen
    /// server answers nothing and libpq would wait forever, but the caller (a readiness check)
    /// must report the database unavailable. The abandoned call keeps the connection until it
    /// returns; calls meanwhile connect for themselves (which a frozen server refuses within the
    /// connect timeout), so waiting on a frozen server never piles up connections or threads.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let outcome = FirstOutcome<T>()
        return try await withCheckedThrowingContinuation { continuation in
            outcome.begin(continuation)
            let timeout = callTimeout
            let timer = Task {
                try await Task.sleep(for: timeout)
                outcome.finish(.failure(Timeout(after: timeout)))
            }
            Task {
                let result = await Result(awaiting: { try await self.run(body) })
                timer.cancel()
                outcome.finish(result)
            }
        }
    }

    /// Closes the session's connection, unless a call is using it (at shutdown; a later call
    /// would connect again).
    public func close() {
        _ = idle.withLockIfAvailable { $0 = nil }
    }

    /// The call did not finish in time.
    public struct Timeout: Error, CustomStringConvertible {
        public let after: Duration
        public var description: String { "the database did not answer within \(after)" }
    }

    /// Runs `body` on a thread of its own, started for the call: a call stuck on a database that
    /// does not answer holds only that thread. (On NIO's shared pool, two threads here, one
    /// stuck call halved what every other blocking call of the process could use.) A thread a
    /// second costs microseconds; a connection a second cost a backend each time.
    private func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await onThreadOfItsOwn(named: "inlet-\(applicationName)") { try self.runBlocking(body) }
    }

    private func runBlocking<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) throws -> T {
        // The lock is held for the call, so the connection is used by one thread at a time;
        // it is only ever tried, never waited for, so no call blocks on another.
        let kept = idle.withLockIfAvailable { slot -> Result<T, any Error> in
            do {
                let connection: Connection
                if let existing = slot {
                    connection = existing
                } else {
                    connection = try connect()
                    slot = connection
                }
                do {
                    return .success(try body(connection))
                } catch {
                    if Self.isBroken(connection, by: error) { slot = nil }
                    return .failure(error)
                }
            } catch {
                return .failure(error)
            }
        }
        if let kept { return try kept.get() }
        // Another call holds the session's connection (or is stuck on it): this one uses
        // a connection of its own, closed when it returns.
        return try body(try connect())
    }

    private func connect() throws -> Connection {
        let connection = try Connection(url: url, applicationName: applicationName, connectTimeout: 2)
        // The server ends what the caller gave up on (see `withConnection`), so an abandoned call
        // frees its thread and connection instead of waiting on a lock for as long as it is held.
        try connection.execute("SET statement_timeout = '\(Self.serverTimeout)'; SET lock_timeout = '\(Self.serverTimeout)'")
        return connection
    }

    /// Longest a session's statement runs, or waits for a lock, on the server.
    static let serverTimeout = "10s"

    /// A connection that failed this way must not be used again: libpq reports it broken, or
    /// the server ended the session.
    static func isBroken(_ connection: Connection, by error: any Error) -> Bool {
        if !connection.isHealthy { return true }
        return (error as? PostgresError)?.isConnectionFailure ?? false
    }
}

/// Resumes a continuation with whichever outcome comes first (the call's or its timeout).
private final class FirstOutcome<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func begin(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    func finish(_ result: Result<T, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing call.
    init(awaiting body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
