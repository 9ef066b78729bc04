/// An error reported by libpq or by the PostgreSQL server.
///
/// Carries the server's SQLSTATE and message (read at once, before any other libpq call could
/// overwrite them), so callers can branch on `sqlState` and operators can read `description`.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// Where the failure happened.
    public enum Kind: Sendable, Equatable {
        /// Connecting, or the connection broke.
        case connection
        /// A statement failed.
        case query
        /// A `COPY ... FROM STDIN` failed.
        case copy
        /// A result value could not be decoded into the requested Swift type.
        case decoding
    }

    public var kind: Kind
    /// Five-character SQLSTATE, when the server sent one (see ``SQLState``).
    public var sqlState: String?
    /// The primary message, without libpq's trailing newline.
    public var message: String
    public var detail: String?
    public var hint: String?
    /// 1-based character position in the statement text where the error was detected.
    public var position: Int?

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil,
        hint: String? = nil, position: Int? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.position = position
    }

    public var description: String {
        var text = sqlState.map { "\($0): \(message)" } ?? message
        if let detail { text += " (detail: \(detail))" }
        if let hint { text += " (hint: \(hint))" }
        return text
    }

    /// SQLSTATE and primary message only, for logs: the server's `detail` may quote row values
    /// ("Failing row contains ..."), which are customer data.
    public var summary: String {
        sqlState.map { "\($0): \(message)" } ?? message
    }

    /// True when the connection itself is unusable and must be re-established.
    public var isConnectionFailure: Bool {
        kind == .connection || (sqlState.map { $0.hasPrefix("08") || $0 == SQLState.adminShutdown } ?? false)
    }
}

/// SQLSTATE codes Inlet branches on. The full list is in the PostgreSQL manual, appendix A.
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let checkViolation = "23514"
    public static let notNullViolation = "23502"
    public static let foreignKeyViolation = "23503"
    public static let undefinedTable = "42P01"
    public static let undefinedFunction = "42883"
    public static let syntaxError = "42601"
    public static let duplicateObject = "42710"
    public static let duplicateTable = "42P07"
    public static let invalidTextRepresentation = "22P02"
    public static let characterNotInRepertoire = "22021"
    public static let untranslatableCharacter = "22P05"
    public static let invalidParameterValue = "22023"
    public static let noPartitionForRow = "23514"  // "no partition of relation found for row" is a check violation
    public static let queryCanceled = "57014"
    public static let adminShutdown = "57P01"
    public static let cannotConnectNow = "57P03"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let lockNotAvailable = "55P03"
    public static let invalidTableDefinition = "42P16"
    public static let invalidCatalogName = "3D000"
    public static let duplicateDatabase = "42P04"
    public static let insufficientPrivilege = "42501"
}
