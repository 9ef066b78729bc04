import Foundation
import PostgresClient

/// Records erasure requests made by an operator and reads every request's progress
/// (`inlet.delete_requests`; `delete` messages are recorded by the writers, BatchWriter+SideTables).
public struct ErasureRequestStore {
    let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    /// Records a request to erase `userID`'s rows of `tenant`; a pass (the server's, or the
    /// caller's own) carries it out.
    public func record(tenant: Int64, userID: String, source: ErasureRequest.Source) throws -> ErasureRequest {
        guard !userID.isEmpty else { throw ErasureError("a user id is required") }
        guard try connection.query("SELECT 1 FROM inlet.tenants WHERE id = $1", tenant).first != nil else {
            throw TenantError.notFound(tenant)
        }
        // Operator requests have no messageId of their own; the prefix says where they came from.
        let prefix = source == .adminAPI ? "admin" : source.rawValue
        let messageID = "\(prefix)-\(UUID().uuidString.lowercased())"
        try connection.query(
            """
            INSERT INTO inlet.delete_requests (tenant_id, message_id, user_id, received_at, source)
            VALUES ($1, $2, $3, now(), $4)
            """, tenant, messageID, userID, source.rawValue)
        guard let request = try find(tenant: tenant, messageID: messageID) else {
            throw ErasureError("the request was not recorded")
        }
        return request
    }

    /// Requests of one tenant or all, unfinished first, then the most recent.
    public func list(tenant: Int64? = nil, limit: Int = 200) throws -> [ErasureRequest] {
        try connection.query(
            """
            SELECT \(Self.columns) FROM inlet.delete_requests
            WHERE $1::bigint IS NULL OR tenant_id = $1
            ORDER BY processed_at IS NOT NULL, requested_at DESC LIMIT $2
            """, tenant, limit
        ).rows.map(Self.request(from:))
    }

    public func find(tenant: Int64, messageID: String) throws -> ErasureRequest? {
        try connection.query(
            "SELECT \(Self.columns) FROM inlet.delete_requests WHERE tenant_id = $1 AND message_id = $2", tenant, messageID
        ).first.map(Self.request(from:))
    }

    static let columns = """
        tenant_id, message_id, user_id, source,
        CASE WHEN processed_at IS NOT NULL THEN 'done' WHEN started_at IS NOT NULL THEN 'running' ELSE 'pending' END,
        array_to_json(anonymous_ids)::text, rows_deleted, cardinality(steps_done), steps_total, steps_done[cardinality(steps_done)],
        requested_at::text, started_at::text, processed_at::text
        """

    static func request(from row: Row) throws -> ErasureRequest {
        let anonymous = try row.decode(String?.self, at: 5).flatMap {
            try JSONDecoder().decode([String].self, from: Data($0.utf8))
        }
        return ErasureRequest(
            tenantID: try row.decode(at: 0), messageID: try row.decode(at: 1), userID: try row.decode(at: 2),
            source: ErasureRequest.Source(rawValue: try row.decode(at: 3)) ?? .message,
            state: ErasureRequest.State(rawValue: try row.decode(at: 4)) ?? .pending,
            anonymousIDs: anonymous, rowsDeleted: try row.decode(at: 6), stepsDone: try row.decode(at: 7),
            stepsTotal: try row.decode(at: 8), lastStep: try row.decode(at: 9), requestedAt: try row.decode(at: 10),
            startedAt: try row.decode(at: 11), finishedAt: try row.decode(at: 12))
    }
}
