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
        replayed_at::text, encode(raw_message, 'hex')
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

    /// The bytes of `encode(bytea, 'hex')`: a quarantined message may not be valid UTF-8, which
    /// `convert_from` would refuse; Swift's decoding replaces what is invalid instead.
    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        func value(_ digit: UInt8) -> UInt8 { digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : (digit | 0x20) - UInt8(ascii: "a") + 10 }
        return stride(from: 0, to: digits.count - 1, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }

    private static func message(from row: Row) throws -> QuarantinedMessage {
        QuarantinedMessage(
            id: try row.decode(at: 0), tenantID: try row.decode(at: 1), rejectedAt: try row.decode(at: 2),
            receivedAt: try row.decode(at: 3), type: try row.decode(at: 4), messageID: try row.decode(at: 5),
            sqlState: try row.decode(at: 6), reason: try row.decode(at: 7), replayedAt: try row.decode(at: 8),
            message: String(decoding: Self.bytes(hex: try row.decode(String.self, at: 9)), as: UTF8.self))
    }
}
