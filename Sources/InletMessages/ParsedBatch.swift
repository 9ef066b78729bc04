import PostgresClient

/// What one request body became: rows ready for binary COPY, one encoder per table, and the
/// messages that were refused with their reasons.
///
/// Produced by ``MessageParser`` on the request's own thread, so that the database writers only
/// copy bytes.
public struct ParsedBatch: Sendable {
    /// Encoded rows per table, indexed by `EventTable.rawValue`; each row starts with the
    /// `tenant_id` given to ``MessageParser/parse(_:tenantID:impliedType:arrival:)``.
    public var encoders: [BinaryCopyEncoder]
    /// One entry per encoded row, in message order.
    public var rows: [EncodedRow]
    /// Messages refused by validation (they go to the quarantine).
    public var rejects: [RejectedMessage]
    /// `delete` messages (recorded, erased in the background).
    public var deletes: [DeleteRequest]
    /// The body's `writeKey` (the envelope's, or else that of the first message in the body
    /// that is well-formed JSON) as the full parse found it. The server authenticates before
    /// parsing, with ``MessageParser/writeKey(in:)``; the fuzzer checks that the two agree.
    public var writeKey: String?
    /// How many messages the body held (valid, refused and deletes).
    public var messageCount: Int
    /// True when the body was one message object (not an array or a batch envelope).
    public var isSingleMessage: Bool
    /// When the request arrived (kept with quarantined messages, so a replay gets the same
    /// timestamps).
    public var arrival: Timestamp?

    public init() {
        encoders = EventTable.allCases.map { _ in BinaryCopyEncoder() }
        rows = []
        rejects = []
        deletes = []
        writeKey = nil
        messageCount = 0
        isSingleMessage = false
    }

    /// Bytes of encoded rows: what the batch costs the ingest queue.
    public var encodedByteCount: Int { encoders.reduce(0) { $0 + $1.bytes.count } }
}

/// One row in ``ParsedBatch/encoders``.
public struct EncodedRow: Sendable, Hashable {
    public var table: EventTable
    /// The row's bytes within `encoders[table.rawValue].bytes`.
    public var byteRange: Range<Int>
    /// The row's `timestamp` column: which monthly partition it goes to.
    public var timestamp: Timestamp
    /// The message's position in the body (0 for a single message).
    public var messageIndex: Int
    /// The `id` column (messageId) as UTF-8, within the row: for spotting repeats in a batch.
    public var messageIDRange: Range<Int>
    /// `timestamp` came from the arrival time (see `MessageTimes`): a retry would get another
    /// one, so the row is deduplicated by tenant, table and messageId instead.
    public var timestampFromArrival: Bool

    public init(
        table: EventTable, byteRange: Range<Int>, timestamp: Timestamp, messageIndex: Int, messageIDRange: Range<Int>,
        timestampFromArrival: Bool = false
    ) {
        self.timestampFromArrival = timestampFromArrival
        self.table = table
        self.byteRange = byteRange
        self.timestamp = timestamp
        self.messageIndex = messageIndex
        self.messageIDRange = messageIDRange
    }
}

/// A message that failed validation, kept for the quarantine and the response's `rejected`.
public struct RejectedMessage: Sendable, Hashable {
    public var messageIndex: Int
    /// The message's `messageId` when it had a usable one.
    public var messageID: String?
    /// Why, in words a Segment user can act on ("track needs \"event\"").
    public var reason: String
    /// The message exactly as received (bytes of the body), cut to ``maxRawBytes``.
    public var raw: [UInt8]
    /// The message's `type` was not one Inlet knows: a single such message is answered 501.
    public var isUnknownType: Bool
    /// The message's type when it had a known one (for per-type metrics).
    public var type: MessageType?

    /// Quarantine rows keep at most this much of a message.
    public static let maxRawBytes = 64 * 1024

    public init(
        messageIndex: Int, messageID: String?, reason: String, raw: [UInt8], isUnknownType: Bool = false,
        type: MessageType? = nil
    ) {
        self.type = type
        self.messageIndex = messageIndex
        self.messageID = messageID
        self.reason = reason
        self.raw = Array(raw.prefix(Self.maxRawBytes))
        self.isUnknownType = isUnknownType
    }
}

/// A Segment `delete` message: a request to erase a user's data.
public struct DeleteRequest: Sendable, Hashable {
    public var messageIndex: Int
    public var messageID: String
    public var userID: String
    public var receivedAt: Timestamp

    public init(messageIndex: Int, messageID: String, userID: String, receivedAt: Timestamp) {
        self.messageIndex = messageIndex
        self.messageID = messageID
        self.userID = userID
        self.receivedAt = receivedAt
    }
}
