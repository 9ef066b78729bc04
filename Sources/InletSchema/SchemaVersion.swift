import PostgresClient

extension MigrationSet {
    /// True when every migration of this set is recorded as applied in the database: what
    /// `/readyz` requires before the server takes traffic.
    public func isApplied(on connection: Connection) throws -> Bool {
        let row = try connection.query(
            """
            SELECT count(*) FROM inlet.schema_migrations WHERE version = ANY($1::integer[])
            """, PostgresArrayLiteral(migrations.map(\.version)).text
        ).first
        return try row?.decode(Int.self, at: 0) == migrations.count
    }
}
