import InletMessages
import PostgresClient

extension BatchWriter {
    /// Claims, in the current transaction, the messageIds of rows whose `timestamp` is their
    /// arrival time (`inlet.arrival_keyed_messages`, V0009), and returns the rows whose messageId
    /// was claimed before: retried copies, which arrived at another time and so carry another
    /// timestamp, but are the same message.
    ///
    /// A claim by a concurrent transaction makes this one wait for it (the unique index), then
    /// count the row as a duplicate if it committed: exactly once either way. Within the batch,
    /// the first row of a messageId claims it and the later ones are duplicates.
    func claimArrivalKeys(_ rows: [RowRef], of batch: WriteBatch) throws -> Set<RowRef> {
        struct Key: Hashable {
            let tenant: Int64
            let table: Int
            let id: String
        }
        var first: [Key: RowRef] = [:]
        var repeats = Set<RowRef>()
        var tenants = PostgresArrayLiteral()
        var tables = PostgresArrayLiteral()
        var ids = PostgresArrayLiteral()
        var timestamps = PostgresArrayLiteral()
        for ref in rows {
            let key = Key(tenant: batch.tenant(ref), table: batch.row(ref).table.rawValue, id: batch.messageID(ref))
            if first[key] == nil { first[key] = ref } else { repeats.insert(ref) }
        }
        // Claimed in key order, so two writers claiming the same retries cannot deadlock.
        for (key, ref) in first.sorted(by: { ($0.key.tenant, $0.key.table, $0.key.id) < ($1.key.tenant, $1.key.table, $1.key.id) }) {
            tenants.append(String(key.tenant))
            tables.append(String(key.table))
            ids.append(key.id)
            timestamps.append(batch.row(ref).timestamp.postgresText)
        }
        let claimed = try connection.query(
            """
            INSERT INTO inlet.arrival_keyed_messages (tenant_id, event_table, id, "timestamp")
            SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::timestamptz[])
            ON CONFLICT DO NOTHING
            RETURNING tenant_id, event_table, id
            """, tenants.text, tables.text, ids.text, timestamps.text)
        var unclaimed = first
        for row in claimed.rows {
            let key = Key(tenant: try row.decode(at: 0), table: try row.decode(Int.self, at: 1), id: try row.decode(at: 2))
            unclaimed.removeValue(forKey: key)
        }
        return repeats.union(unclaimed.values)
    }
}
