import CLibPQ

extension Connection {
    /// Runs `body` inside `BEGIN` ... `COMMIT`; rolls back and rethrows when `body` throws.
    ///
    /// A transaction in which a statement failed answers `COMMIT` with `ROLLBACK` and no error;
    /// that case is reported as an error too, so a swallowed failure never looks committed.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        let value: T
        do {
            value = try body()
        } catch {
            if isHealthy { try? execute("ROLLBACK") }
            throw error
        }
        let commit = try consume(PQexec(handle, "COMMIT"), kind: .query)
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(
                kind: .query, message: "the transaction was rolled back by the server instead of committed")
        }
        return value
    }
}
