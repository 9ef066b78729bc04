/// The rows a statement returned, copied out of libpq's `PGresult`, which is freed at once.
///
/// Inlet's queries outside the COPY path are small (tenants, migrations, health), so copying
/// keeps every `PGresult` lifetime inside one function and no pointer escapes the wrapper.
public struct QueryResult: Sendable {
    public let columns: [String]
    public let rows: [Row]
    /// Rows affected by INSERT/UPDATE/DELETE/COPY (libpq's `PQcmdTuples`), 0 otherwise.
    public let affectedRows: Int
    /// The command tag, e.g. `INSERT 0 1` or `ROLLBACK`.
    public let commandTag: String

    /// The first row, or nil when there is none.
    public var first: Row? { rows.first }
}

/// One result row. Values are Postgres's text representation; decode them with `decode`.
public struct Row: Sendable {
    let columns: [String]
    public let values: [String?]

    /// Decodes column `index` (0-based) as `T`; `T` must be Optional to accept NULL.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T {
        guard values.indices.contains(index) else {
            throw PostgresError(kind: .decoding, message: "no column \(index) in a row of \(values.count)")
        }
        do {
            return try T.decode(postgresText: values[index])
        } catch let failure as ValueDecodingFailure {
            throw PostgresError(kind: .decoding, message: "column \"\(columns[index])\": \(failure.reason)")
        }
    }

    /// Decodes the column called `name` as `T`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, named name: String) throws -> T {
        guard let index = columns.firstIndex(of: name) else {
            throw PostgresError(kind: .decoding, message: "no column \"\(name)\" in the result")
        }
        return try decode(type, at: index)
    }
}
