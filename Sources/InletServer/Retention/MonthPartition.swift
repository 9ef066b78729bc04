/// One month's table of one message table: a partition (`events.tracks_y2026m12`), or a table
/// an interrupted prune left detached and not yet dropped.
public struct MonthPartition: Sendable, Hashable, Encodable {
    public enum State: String, Sendable, Hashable, Codable {
        case attached
        /// `DETACH ... CONCURRENTLY` was interrupted after its first transaction: BI queries no
        /// longer see it; `DETACH ... FINALIZE` completes it.
        case detachPending = "detach-pending"
        /// Detached, not yet dropped (a prune stopped between the two).
        case detached
    }

    /// The partitioned table, e.g. `tracks`.
    public let table: String
    /// The partition's name, e.g. `tracks_y2026m12`.
    public let name: String
    /// `2026-12`.
    public let month: String
    public let state: State
    /// Live rows as PostgreSQL's statistics estimate them (not a count).
    public let estimatedRows: Int64
    /// Table, indexes and TOAST.
    public let bytes: Int64

    /// Year × 12 + month − 1, to compare months.
    let monthIndex: Int

    public var qualifiedName: String { "events.\(name)" }

    enum CodingKeys: String, CodingKey {
        case table, name, month, state, bytes
        case estimatedRows = "estimated_rows"
    }

    init(table: String, name: String, year: Int, month: Int, state: State, estimatedRows: Int64, bytes: Int64) {
        self.table = table
        self.name = name
        self.month = "\(year)-\(month < 10 ? "0" : "")\(month)"
        self.state = state
        self.estimatedRows = estimatedRows
        self.bytes = bytes
        self.monthIndex = year * 12 + month - 1
    }
}
