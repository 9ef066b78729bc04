/// One month of the message tables, as `inlet partitions list` shows it.
public struct PartitionMonth: Sendable, Hashable, Encodable {
    /// `2026-12`.
    public let month: String
    public let partitions: [MonthPartition]

    /// Live rows of the month's partitions, as estimated by PostgreSQL's statistics.
    public var estimatedRows: Int64 { partitions.reduce(0) { $0 + $1.estimatedRows } }
    public var bytes: Int64 { partitions.reduce(0) { $0 + $1.bytes } }

    enum CodingKeys: String, CodingKey {
        case month, partitions
        case estimatedRows = "estimated_rows"
        case bytes
    }

    public init(month: String, partitions: [MonthPartition]) {
        self.month = month
        self.partitions = partitions
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(month, forKey: .month)
        try container.encode(partitions, forKey: .partitions)
        try container.encode(estimatedRows, forKey: .estimatedRows)
        try container.encode(bytes, forKey: .bytes)
    }
}
