import NIOPosix
import PostgresClient

/// Runs blocking libpq work on NIO's thread pool, never on an event loop.
///
/// `withConnection` opens a connection per call: for rare callers (admin requests), where a
/// fresh connection cannot be left in a broken state by a previous failure. Background services
/// that work every few seconds keep one connection each instead: ``session(_:)``.
public struct BlockingDatabase: Sendable {
    public let url: String
    let applicationName: String

    public init(url: String, applicationName: String = "inlet") {
        self.url = url
        self.applicationName = applicationName
    }

    /// Connects, runs `body` with the connection on a pool thread, and closes the connection.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let url = url
        let applicationName = applicationName
        return try await NIOThreadPool.singleton.runIfActive {
            let connection = try Connection(url: url, applicationName: applicationName, connectTimeout: 2)
            return try body(connection)
        }
    }

    /// A long-lived connection for one background service, shown in `pg_stat_activity` as
    /// `applicationName` (e.g. `inlet-readiness`).
    public func session(_ applicationName: String) -> DatabaseSession {
        DatabaseSession(url: url, applicationName: applicationName)
    }
}

/// An error as it may appear in logs: a database error without its `detail` (which can quote
/// customer data) and without a quoted database URL, anything else as it describes itself.
func logDescription(_ error: any Error) -> String {
    guard let error = error as? PostgresError else { return "\(error)" }
    return error.kind == .connection ? withoutQuotedConnectionString(error.summary) : error.summary
}

/// libpq quotes the malformed part of a connection string when it cannot parse one
/// (`invalid percent-encoded token: "s3cret%zz"`, or the whole URI, password included): such
/// quotes are removed. Other connection errors keep theirs (`connection to server at "db1"`),
/// which name hosts, not secrets.
func withoutQuotedConnectionString(_ message: String) -> String {
    let parseErrors = ["connection info string", "URI", "percent-encoded"]
    guard parseErrors.contains(where: { message.contains($0) }) else { return message }
    return message.replacing(#/"[^"]*"/#, with: "\"…\"")
}
