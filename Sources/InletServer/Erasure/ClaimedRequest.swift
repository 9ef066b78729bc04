import Foundation
import PostgresClient

/// A request an erasure step holds (its row locked until the step commits).
struct ClaimedRequest {
    let messageID: String
    let userID: String
    let anonymousIDs: [String]

    /// From `message_id, user_id, array_to_json(anonymous_ids)::text`.
    init(row: Row) throws {
        messageID = try row.decode(at: 0)
        userID = try row.decode(at: 1)
        anonymousIDs = try JSONDecoder().decode([String].self, from: Data(try row.decode(String.self, at: 2).utf8))
    }
}
