import PostgresClient

/// Deletes what the service's own tables no longer need: quarantined messages, hours of
/// per-tenant traffic and finished erasure requests older than the service retention.
///
/// In batches of `batchSize` rows, each its own statement (autocommit), so the first run on a
/// table that grew for years neither holds many locks nor one long transaction.
public struct ServiceTablePruner {
    public struct Result: Sendable, Equatable, Codable {
        public var quarantined = 0
        public var trafficHours = 0
        public var deleteRequests = 0

        public init(quarantined: Int = 0, trafficHours: Int = 0, deleteRequests: Int = 0) {
            self.quarantined = quarantined
            self.trafficHours = trafficHours
            self.deleteRequests = deleteRequests
        }

        enum CodingKeys: String, CodingKey {
            case quarantined
            case trafficHours = "traffic_hours"
            case deleteRequests = "delete_requests"
        }
    }

    let connection: Connection
    static let batchSize = 10_000

    public init(connection: Connection) { self.connection = connection }

    public func prune(olderThan: Duration) throws -> Result {
        let seconds = Double(olderThan.components.seconds)
        var result = Result()
        result.quarantined = try deleteInBatches(
            "inlet.rejected_messages", key: "tenant_id, rejected_at, id", "rejected_at < now() - make_interval(secs => $1)", seconds)
        result.trafficHours = try deleteInBatches(
            "inlet.tenant_traffic", key: "tenant_id, hour, writer", "hour < now() - make_interval(secs => $1)", seconds)
        // Unfinished requests stay, however old: they are still owed.
        result.deleteRequests = try deleteInBatches(
            "inlet.delete_requests", key: "tenant_id, message_id",
            "processed_at IS NOT NULL AND processed_at < now() - make_interval(secs => $1)", seconds)
        return result
    }

    /// Batches are chosen by the table's primary key `key`, not by `ctid`: a row's `ctid` means
    /// something on one node only (docs/SCALING.md).
    private func deleteInBatches(_ table: String, key: String, _ condition: String, _ seconds: Double) throws -> Int {
        var total = 0
        while true {
            let deleted = try connection.query(
                """
                DELETE FROM \(table) WHERE (\(key)) IN (SELECT \(key) FROM \(table) WHERE \(condition) LIMIT \(Self.batchSize))
                """,
                seconds
            ).affectedRows
            total += deleted
            if deleted < Self.batchSize { return total }
        }
    }
}
