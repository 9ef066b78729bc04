import Foundation
import InletMessages
import PostgresClient

/// One quarantined message, as `inlet quarantine list/show` shows it.
public struct QuarantinedMessage: Sendable, Hashable, Codable {
    public let id: Int64
    public let tenantID: Int64
    public let rejectedAt: String
    public let receivedAt: String?
    public let type: String?
    public let messageID: String?
    public let sqlState: String?
    public let reason: String
    public let replayedAt: String?
    /// The message as JSON with credentials removed (as received when validation refused it:
    /// possibly not JSON, shown with invalid UTF-8 replaced).
    public let message: String

    enum CodingKeys: String, CodingKey {
        case id, type, reason, message
        case tenantID = "tenant_id"
        case rejectedAt = "rejected_at"
        case receivedAt = "received_at"
        case messageID = "message_id"
        case sqlState = "sqlstate"
        case replayedAt = "replayed_at"
    }
}

/// Reads the quarantine, `inlet.rejected_messages`.
public struct QuarantineStore {
    let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    static let columns = """
        id, tenant_id, rejected_at::text, received_at::text, message_type, message_id, sqlstate, reason,
        replayed_at::text, raw_message
        """

    /// The most recent `limit` quarantined messages, newest first, of one tenant or all.
    public func list(tenant: Int64? = nil, limit: Int = 100) throws -> [QuarantinedMessage] {
        try connection.query(
            """
            SELECT \(Self.columns) FROM inlet.rejected_messages
            WHERE $1::bigint IS NULL OR tenant_id = $1 ORDER BY id DESC LIMIT $2
            """, tenant, limit
        ).rows.map(Self.message(from:))
    }

    public func show(id: Int64) throws -> QuarantinedMessage? {
        try connection.query("SELECT \(Self.columns) FROM inlet.rejected_messages WHERE id = $1", id).rows.first.map(Self.message(from:))
    }

    public func count(tenant: Int64? = nil) throws -> Int {
        try connection.query(
            "SELECT count(*) FROM inlet.rejected_messages WHERE $1::bigint IS NULL OR tenant_id = $1", tenant
        ).first?.decode(Int.self, at: 0) ?? 0
    }

    private static func message(from row: Row) throws -> QuarantinedMessage {
        QuarantinedMessage(
            id: try row.decode(at: 0), tenantID: try row.decode(at: 1), rejectedAt: try row.decode(at: 2),
            receivedAt: try row.decode(at: 3), type: try row.decode(at: 4), messageID: try row.decode(at: 5),
            sqlState: try row.decode(at: 6), reason: try row.decode(at: 7), replayedAt: try row.decode(at: 8),
            message: String(decoding: try row.decode(ByteaValue.self, at: 9).bytes, as: UTF8.self))
    }
}
