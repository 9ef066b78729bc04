/// One request to erase a user's rows (`inlet.delete_requests`), as `inlet deletes list` and
/// the admin API show it.
public struct ErasureRequest: Sendable, Hashable, Codable {
    /// Where the request came from.
    public enum Source: String, Sendable, Hashable, Codable {
        /// A Segment `delete` message.
        case message
        case cli
        case adminAPI = "admin-api"
    }

    public enum State: String, Sendable, Hashable, Codable {
        /// Recorded; no pass has started it yet.
        case pending
        /// Its anonymous ids are resolved and some tables are done (`stepsDone` of `stepsTotal`).
        case running
        /// Every table is done.
        case done
    }

    public let tenantID: Int64
    /// The `delete` message's messageId (`cli-…` / `admin-…` for the other sources).
    public let messageID: String
    public let userID: String
    public let source: Source
    public let state: State
    /// The user's anonymous ids, found through their identifies when the request started.
    public let anonymousIDs: [String]?
    public let rowsDeleted: Int64
    /// Tables (partitions, `events.users`, the quarantine) done, of how many the last pass had.
    public let stepsDone: Int
    public let stepsTotal: Int?
    /// The last table done: how far it got.
    public let lastStep: String?
    public let requestedAt: String
    public let startedAt: String?
    public let finishedAt: String?

    enum CodingKeys: String, CodingKey {
        case source, state
        case tenantID = "tenant_id"
        case messageID = "message_id"
        case userID = "user_id"
        case anonymousIDs = "anonymous_ids"
        case rowsDeleted = "rows_deleted"
        case stepsDone = "steps_done"
        case stepsTotal = "steps_total"
        case lastStep = "last_step"
        case requestedAt = "requested_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }
}
