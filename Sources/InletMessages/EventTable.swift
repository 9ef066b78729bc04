/// The Segment message types Inlet accepts.
public enum MessageType: String, Sendable, CaseIterable {
    case track, identify, page, screen, group, alias, delete

    /// The table a message of this type is stored in; `delete` has none (it is a request to erase).
    public var table: EventTable? {
        switch self {
        case .track: .tracks
        case .identify: .identifies
        case .page: .pages
        case .screen: .screens
        case .group: .groups
        case .alias: .aliases
        case .delete: nil
        }
    }
}

/// The six message tables of schema `events`, and the column order rows are encoded in.
///
/// Every encoded row starts with the common columns, `tenant_id` first, then the table's own.
/// `loaded_at` is not encoded: the writer sets it at commit.
public enum EventTable: Int, Sendable, CaseIterable {
    case tracks, identifies, pages, screens, groups, aliases

    public var name: String {
        switch self {
        case .tracks: "tracks"
        case .identifies: "identifies"
        case .pages: "pages"
        case .screens: "screens"
        case .groups: "groups"
        case .aliases: "aliases"
        }
    }

    /// Columns every message table has, in encoding order.
    public static let commonColumns = [
        "tenant_id", "id", "anonymous_id", "user_id", "timestamp", "original_timestamp", "sent_at",
        "received_at", "context", "integrations",
    ]

    /// This table's own columns, in encoding order after ``commonColumns``.
    public var ownColumns: [String] {
        switch self {
        case .tracks: ["event", "event_text", "properties"]
        case .identifies: ["traits"]
        case .pages: ["name", "category", "properties"]
        case .screens: ["name", "properties"]
        case .groups: ["group_id", "traits"]
        case .aliases: ["previous_id"]
        }
    }

    /// All encoded columns, in order.
    public var columns: [String] { Self.commonColumns + ownColumns }
}
