import InletMessages
import PostgresClient

extension BatchWriter {
    /// Adds this transaction's stored messages to each tenant's hourly traffic (what
    /// `inlet tenant show` reports), in the writer's own row.
    func recordTraffic(_ batch: WriteBatch, stored: [Int]) throws {
        var perTenant: [Int64: Int] = [:]
        for index in batch.requests.indices where stored[index] > 0 {
            perTenant[batch.requests[index].tenantID, default: 0] += stored[index]
        }
        guard !perTenant.isEmpty else { return }
        let tenants = Array(perTenant.keys)
        try connection.query(
            """
            INSERT INTO inlet.tenant_traffic AS r (tenant_id, hour, writer, messages, last_message_at)
            SELECT tenant, date_trunc('hour', now()), pg_backend_pid(), messages, now()
            FROM unnest($1::bigint[], $2::bigint[]) AS u(tenant, messages)
            ON CONFLICT (tenant_id, hour, writer) DO UPDATE
            SET messages = r.messages + EXCLUDED.messages, last_message_at = EXCLUDED.last_message_at
            """, PostgresArrayLiteral(tenants).text, PostgresArrayLiteral(tenants.map { perTenant[$0] ?? 0 }).text)
    }

    /// Records the `delete` messages of the requests in `requests` (erased in the background).
    func recordDeletes(_ batch: WriteBatch, requests: Set<Int>) throws {
        for index in requests.sorted() {
            let request = batch.requests[index]
            for delete in request.batch.deletes {
                try connection.query(
                    """
                    INSERT INTO inlet.delete_requests (tenant_id, message_id, user_id, received_at)
                    VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                    """, request.tenantID, delete.messageID, delete.userID, delete.receivedAt)
            }
        }
    }
}
