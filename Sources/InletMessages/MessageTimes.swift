import PostgresClient

/// The four timestamp columns of a message, chosen as Segment's warehouses do.
///
/// - `received_at`: the message's `receivedAt` (set when Segment relays it), else the arrival.
/// - `sent_at`: the message's `sentAt`, else the batch envelope's, else NULL.
/// - `original_timestamp`: the message's `originalTimestamp` (the device clock), else NULL.
/// - `timestamp`: the message's `timestamp`; else, with both `originalTimestamp` and `sentAt`,
///   Segment's clock-skew correction `received_at − (sentAt − originalTimestamp)`; else
///   `originalTimestamp`; else `received_at`.
///
/// A timestamp string that does not parse (see ``ISO8601``) counts as absent: the message is
/// stored, not refused, since a wrong device clock is the sender's problem, not a reason to lose
/// the event.
///
/// **The plausible window.** `timestamp` decides the monthly partition and every BI time range,
/// so an absurd one (a device clock at 1970, a year-9999 placeholder) would create partitions
/// for years nobody queries and hide the event from every report. A `timestamp` before
/// 2000-01-01T00:00:00Z or more than 24 hours after the arrival is replaced by the arrival, and
/// the absurd value is kept in `original_timestamp` for whoever wants to look.
struct MessageTimes {
    var timestamp: Timestamp
    var originalTimestamp: Timestamp?
    var sentAt: Timestamp?
    var receivedAt: Timestamp
    /// True when `timestamp` was computed from the arrival time (no usable `timestamp` and no
    /// `receivedAt` to stand in for it, or an implausible value replaced): a retried copy would
    /// then get another `timestamp`, so the writer deduplicates such rows by messageId alone.
    var timestampFromArrival: Bool

    /// 2000-01-01T00:00:00Z, the earliest plausible `timestamp`.
    static let earliestPlausible = Timestamp(microsecondsSinceUnixEpoch: 946_684_800_000_000)
    /// How far past the arrival a `timestamp` may be (clocks ahead, time zones mistaken).
    static let maxFutureMicroseconds: Int64 = 24 * 3_600 * 1_000_000

    static func resolve(
        _ fields: MessageFields, envelopeSentAt: Timestamp?, arrival: Timestamp, parse: (ScannedValue) -> Timestamp?
    ) -> MessageTimes {
        func parsed(_ value: ScannedValue?) -> Timestamp? { value.flatMap(parse) }
        let ownReceivedAt = parsed(fields.receivedAt)
        let receivedAt = ownReceivedAt ?? arrival
        var fromArrival = false
        let sentAt = parsed(fields.sentAt) ?? envelopeSentAt
        var originalTimestamp = parsed(fields.originalTimestamp)
        var timestamp: Timestamp
        if let own = parsed(fields.timestamp) {
            timestamp = own
        } else if let original = originalTimestamp, let sentAt {
            timestamp = Timestamp(
                microsecondsSinceUnixEpoch: receivedAt.microsecondsSinceUnixEpoch
                    - (sentAt.microsecondsSinceUnixEpoch - original.microsecondsSinceUnixEpoch))
            fromArrival = ownReceivedAt == nil
        } else if let original = originalTimestamp {
            timestamp = original
        } else {
            timestamp = receivedAt
            fromArrival = ownReceivedAt == nil
        }
        if timestamp < earliestPlausible
            || timestamp.microsecondsSinceUnixEpoch > arrival.microsecondsSinceUnixEpoch + maxFutureMicroseconds
        {
            originalTimestamp = timestamp
            timestamp = arrival
            fromArrival = true
        }
        return MessageTimes(
            timestamp: timestamp, originalTimestamp: originalTimestamp, sentAt: sentAt, receivedAt: receivedAt,
            timestampFromArrival: fromArrival)
    }
}
