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

/// One encoded column of a message table: the one description the encoder, the writer (COPY
/// column lists, rebuilding a refused row as a message), the fuzzer's checks and the tests use.
public struct EventColumn: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case int8, text, timestamptz, jsonb
    }

    public let name: String
    public let kind: Kind
    public let notNull: Bool
    /// The Segment message member this column holds, for turning a row back into a message;
    /// nil for columns derived from others (`tenant_id`, the `event` slug).
    public let member: String?

    init(_ name: String, _ kind: Kind, notNull: Bool = false, member: String?) {
        self.name = name
        self.kind = kind
        self.notNull = notNull
        self.member = member
    }
}

/// The six message tables of schema `events`, and the column order rows are encoded in.
///
/// Every encoded row starts with the common columns, `tenant_id` first, then the table's own.
/// `loaded_at` is not encoded: it defaults to the commit time.
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

    public var messageType: MessageType {
        switch self {
        case .tracks: .track
        case .identifies: .identify
        case .pages: .page
        case .screens: .screen
        case .groups: .group
        case .aliases: .alias
        }
    }

    /// Columns every message table has, in encoding order.
    public static let commonColumnDescriptions: [EventColumn] = [
        EventColumn("tenant_id", .int8, notNull: true, member: nil),
        EventColumn("id", .text, notNull: true, member: "messageId"),
        EventColumn("anonymous_id", .text, member: "anonymousId"),
        EventColumn("user_id", .text, member: "userId"),
        EventColumn("timestamp", .timestamptz, notNull: true, member: "timestamp"),
        EventColumn("original_timestamp", .timestamptz, member: "originalTimestamp"),
        EventColumn("sent_at", .timestamptz, member: "sentAt"),
        EventColumn("received_at", .timestamptz, notNull: true, member: "receivedAt"),
        EventColumn("context", .jsonb, member: "context"),
        EventColumn("integrations", .jsonb, member: "integrations"),
    ]

    /// This table's own columns, in encoding order after the common ones.
    public var ownColumnDescriptions: [EventColumn] {
        switch self {
        case .tracks:
            [
                EventColumn("event", .text, notNull: true, member: nil), EventColumn("event_text", .text, notNull: true, member: "event"),
                EventColumn("properties", .jsonb, member: "properties"),
            ]
        case .identifies: [EventColumn("traits", .jsonb, member: "traits")]
        case .pages:
            [
                EventColumn("name", .text, member: "name"), EventColumn("category", .text, member: "category"),
                EventColumn("properties", .jsonb, member: "properties"),
            ]
        case .screens: [EventColumn("name", .text, member: "name"), EventColumn("properties", .jsonb, member: "properties")]
        case .groups: [EventColumn("group_id", .text, notNull: true, member: "groupId"), EventColumn("traits", .jsonb, member: "traits")]
        case .aliases: [EventColumn("previous_id", .text, notNull: true, member: "previousId")]
        }
    }

    /// All encoded columns, in order. Computed once per table: the encoder asks for the count
    /// of every row.
    public var columnDescriptions: [EventColumn] { Self.descriptions[rawValue] }
    private static let descriptions: [[EventColumn]] = allCases.map { commonColumnDescriptions + $0.ownColumnDescriptions }

    /// All encoded column names, in order.
    public var columns: [String] { Self.names[rawValue] }
    private static let names: [[String]] = descriptions.map { $0.map(\.name) }

    /// Columns every message table has, in encoding order.
    public static var commonColumns: [String] { commonColumnDescriptions.map(\.name) }

    /// How many fields each encoded row has.
    public var fieldCount: Int { Self.fieldCounts[rawValue] }
    private static let fieldCounts: [Int] = descriptions.map(\.count)
}
