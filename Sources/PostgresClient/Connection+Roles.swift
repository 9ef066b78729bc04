import CLibPQ

extension Connection {
    /// Quotes `value` as an SQL string literal (`PQescapeLiteral`), for utility statements such
    /// as `CREATE ROLE ... PASSWORD` or `ALTER ROLE ... SET`, which take no bound parameters.
    public func escapeLiteral(_ value: String) throws -> String {
        guard let escaped = PQescapeLiteral(handle, value, value.utf8.count) else {
            throw connectionError()
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    /// The hash PostgreSQL stores for `password` of `role`, computed here, so that the
    /// password itself never reaches the server (nor its logs or `pg_stat_activity`):
    /// `PQencryptPasswordConn` with the server's `password_encryption` (`SCRAM-SHA-256$...`
    /// by default since PostgreSQL 14). It asks the server for that setting: do not call it in a
    /// failed transaction.
    public func passwordHash(_ password: String, role: String) throws -> String {
        guard let hash = PQencryptPasswordConn(handle, password, role, nil) else {
            throw connectionError()
        }
        defer { PQfreemem(hash) }
        return String(cString: hash)
    }
}
