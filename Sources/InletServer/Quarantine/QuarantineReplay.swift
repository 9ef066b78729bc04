import InletMessages
import Logging
import PostgresClient

/// `inlet quarantine replay`: re-ingests quarantined messages through the normal write path
/// (parse, validate, partitions, deduplication, profiles), after a fix or a migration.
///
/// A message now stored, or found stored already, leaves the quarantine in the transaction that
/// stores it; one still refused stays, with its new reason. Each message is replayed with the
/// arrival time of its first delivery, so it gets the same timestamps and the same key: a replay,
/// repeated or interrupted, never stores a message twice.
public struct QuarantineReplay {
    public struct Progress: Sendable, Equatable {
        /// Messages the replay looks at.
        public var total = 0
        public var done = 0
        /// Stored now, found stored already, still refused (they stay), deferred (their month
        /// could not be created now: they stay, for the next replay).
        public var stored = 0
        public var duplicates = 0
        public var stillRefused = 0
        public var deferred = 0
    }

    let databaseURL: String
    let parser: MessageParser
    let logger: Logger
    /// Quarantine rows per transaction.
    static let chunk = 500

    public init(databaseURL: String, limits: MessageLimits = MessageLimits(), logger: Logger) {
        self.databaseURL = databaseURL
        self.parser = MessageParser(limits: limits)
        self.logger = logger
    }

    /// Replays the messages quarantined for `tenant` (or every tenant) since `since` (a time
    /// PostgreSQL reads, e.g. ISO 8601; or ever), oldest first, telling `progress` after each chunk.
    public func run(tenant: Int64?, since: String?, progress: (Progress) -> Void = { _ in }) throws -> Progress {
        let reader = try Connection(url: databaseURL, applicationName: "inlet-quarantine-replay")
        let writer = try BatchWriter(url: databaseURL, logger: logger, applicationName: "inlet-quarantine-replay")
        var state = Progress()
        let filter = "($1::bigint IS NULL OR tenant_id = $1) AND ($2::timestamptz IS NULL OR rejected_at >= $2)"
        state.total = try reader.query("SELECT count(*) FROM inlet.rejected_messages WHERE \(filter)", tenant, since)
            .first?.decode(Int.self, at: 0) ?? 0
        // The highest id now: messages quarantined while the replay runs (its own refusals
        // included) wait for the next one.
        let last = try reader.query("SELECT coalesce(max(id), 0) FROM inlet.rejected_messages").first?.decode(Int64.self, at: 0) ?? 0
        var after: Int64 = 0
        progress(state)
        while true {
            let rows = try reader.query(
                """
                SELECT id, tenant_id, raw_message, coalesce(received_at, rejected_at), message_type, arrival_keyed
                FROM inlet.rejected_messages WHERE \(filter) AND id > $3 AND id <= $4 ORDER BY id LIMIT $5
                """, tenant, since, after, last, Self.chunk
            ).rows
            guard let lastRow = rows.last else { break }
            after = try lastRow.decode(Int64.self, at: 0)
            var requests: [WriteRequest] = []
            for row in rows {
                let id = try row.decode(Int64.self, at: 0)
                let raw = try row.decode(ByteaValue.self, at: 2).bytes
                let arrival = try row.decode(Timestamp.self, at: 3)
                let type = try row.decode(String?.self, at: 4).flatMap(MessageType.init(rawValue:))
                let tenantID = try row.decode(Int64.self, at: 1)
                let arrivalKeyed = try row.decode(Bool.self, at: 5)
                do {
                    var batch = try parser.parse(raw, tenantID: tenantID, impliedType: type, arrival: arrival)
                    if arrivalKeyed {
                        // Rebuilt from a row timestamped by its arrival: that time is now the
                        // message's own timestamp, but a redelivery since then was stored under
                        // another one; dedupe by messageId as the first delivery would have.
                        for index in batch.rows.indices { batch.rows[index].timestampFromArrival = true }
                    }
                    requests.append(WriteRequest(tenantID: tenantID, batch: batch, replayOf: id))
                } catch let error {
                    // Still not JSON: it stays, with today's words for why.
                    try reader.query(
                        "UPDATE inlet.rejected_messages SET reason = $2, replayed_at = now() WHERE id = $1", id, error.description)
                    state.stillRefused += 1
                }
            }
            let results = requests.isEmpty ? [] : try writer.write(requests)
            for result in results {
                if result.refusal != nil {
                    state.deferred += 1
                } else if !result.rejected.isEmpty {
                    state.stillRefused += 1
                } else if result.accepted > 0 {
                    state.stored += 1
                } else {
                    state.duplicates += 1
                }
            }
            state.done += rows.count
            progress(state)
        }
        return state
    }
}
