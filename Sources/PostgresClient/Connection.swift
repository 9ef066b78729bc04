import CLibPQ
import Foundation

/// One blocking libpq connection (`PGconn`), freed when the object is.
///
/// Every call blocks the calling thread until the server answers: use a connection from a
/// dedicated thread or a thread pool (`NIOThreadPool`), never from a NIO event loop.
/// Not `Sendable`: a connection belongs to one thread at a time.
public final class Connection {
    let handle: OpaquePointer

    /// Connects to `url`, a libpq connection URI (`postgresql://user@host:5432/db`) or keyword
    /// string (`host=... dbname=...`); anything the URL leaves out comes from libpq's `PG*`
    /// environment variables.
    ///
    /// The session is set to `TimeZone = UTC` and `DateStyle = ISO` so that text results decode
    /// the same way whatever the server's defaults.
    /// - Parameters:
    ///   - connectTimeout: seconds before giving up on an unreachable server, unless the URL
    ///     sets `connect_timeout` itself.
    public init(url: String, applicationName: String = "inlet", connectTimeout: Int = 5) throws {
        // Entries before `dbname` can be overridden by the expanded URL, so the caller's URL wins.
        // Both arrays end with NULL, as libpq requires.
        let keywords: [String?] = ["connect_timeout", "fallback_application_name", "dbname", nil]
        let values: [String?] = [String(connectTimeout), applicationName, url, nil]
        let connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(kind: .connection, message: message)
        }
        self.handle = connection
        // libpq prints NOTICEs ("relation already exists, skipping") to stderr by default.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        try execute("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'")
    }

    deinit {
        PQfinish(handle)
    }

    /// False once the connection has broken; a broken connection only raises errors.
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The connection's socket. Another thread may `shutdown(2)` it to make a call that is stuck
    /// waiting for a frozen server fail at once (libpq itself has no timeout for that).
    public var socketDescriptor: Int32 { PQsocket(handle) }

    /// The server's process id for this session (`pg_backend_pid()`).
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// Runs one statement with parameters bound separately (`$1`, `$2`, ...).
    @discardableResult
    public func query(_ sql: String, _ parameters: (any PostgresBindable)?...) throws -> QueryResult {
        try query(sql, parameters: parameters)
    }

    /// Runs one statement with parameters bound separately (`$1`, `$2`, ...).
    @discardableResult
    public func query(_ sql: String, parameters: [(any PostgresBindable)?]) throws -> QueryResult {
        let texts = parameters.map { $0?.postgresParameter }
        if texts.contains(where: { $0?.utf8.contains(0) == true }) {
            throw PostgresError(kind: .query, message: "a parameter contains a NUL character, which Postgres cannot store")
        }
        let result = withCStringArray(texts) { values in
            PQexecParams(handle, sql, Int32(values.count), nil, values, nil, nil, 0)
        }
        return try consume(result, kind: .query)
    }

    /// Runs a script of one or more statements without parameters (the simple query protocol);
    /// used for migrations and session settings.
    public func execute(_ script: String) throws {
        _ = try consume(PQexec(handle, script), kind: .query)
    }

    /// Quotes `name` as an SQL identifier (`PQescapeIdentifier`), for the rare statement whose
    /// table or schema name is not fixed in the source.
    public func escapeIdentifier(_ name: String) throws -> String {
        guard let escaped = PQescapeIdentifier(handle, name, name.utf8.count) else {
            throw connectionError()
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    // MARK: - Results and errors

    /// Checks a `PGresult`, copies it out and frees it.
    func consume(_ result: OpaquePointer?, kind: PostgresError.Kind) throws -> QueryResult {
        guard let result else { throw connectionError() }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return Self.copyOut(result)
        default:
            throw Self.error(from: result, connection: handle, kind: kind)
        }
    }

    static func copyOut(_ result: OpaquePointer) -> QueryResult {
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        var rows: [Row] = []
        rows.reserveCapacity(Int(rowCount))
        for rowIndex in 0..<rowCount {
            let values: [String?] = (0..<columnCount).map { column in
                if PQgetisnull(result, rowIndex, column) == 1 { return nil }
                let length = Int(PQgetlength(result, rowIndex, column))
                return PQgetvalue(result, rowIndex, column).withMemoryRebound(to: UInt8.self, capacity: length) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                }
            }
            rows.append(Row(columns: columns, values: values))
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return QueryResult(
            columns: columns, rows: rows, affectedRows: affected, commandTag: String(cString: PQcmdStatus(result)))
    }

    /// Reads every diagnostic field of a failed result at once, before another call can
    /// replace the connection's error state.
    static func error(from result: OpaquePointer, connection: OpaquePointer, kind: PostgresError.Kind) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue ?? 0)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let message = field("M") ?? trimmed(PQresultErrorMessage(result))
        let brokenConnection = PQstatus(connection) != CONNECTION_OK
        return PostgresError(
            kind: sqlState == nil && brokenConnection ? .connection : kind,
            sqlState: sqlState,
            message: message.isEmpty ? trimmed(PQerrorMessage(connection)) : message,
            detail: field("D"), hint: field("H"), position: field("P").flatMap { Int($0) })
    }

    func connectionError() -> PostgresError {
        PostgresError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)))
    }

    static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown libpq error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Calls `body` with NUL-terminated copies of `strings` (nil stays NULL), freed afterwards.
func withCStringArray<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { copies.forEach { free($0) } }
    return try body(copies.map { $0.map { UnsafePointer($0) } })
}
