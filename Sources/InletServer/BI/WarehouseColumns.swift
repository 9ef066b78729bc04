import InletMessages

/// A column of a BI view: its name and its expression over the row alias `t`.
struct ViewColumn: Sendable, Hashable {
    let name: String
    let expression: String

    init(_ name: String, _ expression: String) {
        self.name = name
        self.expression = expression
    }

    /// A column that is the row's column of the same name.
    init(_ name: String) { self.init(name, "t.\(WarehouseName.quoted(name))") }
}

/// The columns every tenant's views have, whatever the data holds: Segment's warehouse columns,
/// so SQL and models written for a Segment warehouse find them (NULL where a message had none).
/// Discovered fields come after these, and one that would take a name listed here is left out,
/// as Segment's warehouses discard a property named like a reserved column.
enum WarehouseColumns {
    /// The common columns of the six message tables' views.
    static let common: [ViewColumn] = [
        ViewColumn("id"), ViewColumn("anonymous_id"), ViewColumn("user_id"), ViewColumn("timestamp"),
        ViewColumn("original_timestamp"), ViewColumn("sent_at"), ViewColumn("received_at"), ViewColumn("loaded_at"),
        // Segment's name for the time a row was loaded.
        ViewColumn("uuid_ts", "t.loaded_at"),
    ]

    /// The Segment Spec's context fields, always present as columns.
    static let contextFields: [(path: [String], kind: WarehouseField.Kind)] = [
        (["active"], .boolean), (["ip"], .text), (["locale"], .text), (["timezone"], .text), (["user_agent"], .text),
        (["group_id"], .text),
        (["app", "name"], .text), (["app", "version"], .text), (["app", "build"], .text), (["app", "namespace"], .text),
        (["campaign", "name"], .text), (["campaign", "source"], .text), (["campaign", "medium"], .text),
        (["campaign", "term"], .text), (["campaign", "content"], .text),
        (["device", "id"], .text), (["device", "advertising_id"], .text), (["device", "ad_tracking_enabled"], .boolean),
        (["device", "manufacturer"], .text), (["device", "model"], .text), (["device", "name"], .text),
        (["device", "type"], .text), (["device", "token"], .text),
        (["library", "name"], .text), (["library", "version"], .text),
        (["location", "city"], .text), (["location", "country"], .text), (["location", "region"], .text),
        (["location", "latitude"], .number), (["location", "longitude"], .number), (["location", "speed"], .number),
        (["network", "bluetooth"], .boolean), (["network", "carrier"], .text), (["network", "cellular"], .boolean),
        (["network", "wifi"], .boolean),
        (["os", "name"], .text), (["os", "version"], .text),
        (["page", "path"], .text), (["page", "referrer"], .text), (["page", "search"], .text), (["page", "title"], .text),
        (["page", "url"], .text),
        (["referrer", "id"], .text), (["referrer", "type"], .text),
        (["screen", "width"], .number), (["screen", "height"], .number), (["screen", "density"], .number),
    ]

    /// The page properties Segment's `pages` table always has.
    static let pageProperties = ["url", "path", "title", "referrer", "search"]

    static var context: [ViewColumn] {
        contextFields.map { field in
            let snake = WarehouseField(relation: .tracks, event: "", member: .context, path: field.path, kind: field.kind)
            // The Segment Spec spells context keys in camelCase (userAgent, adTrackingEnabled,
            // groupId); a few SDKs send snake_case. The column reads either.
            let camel = WarehouseField(
                relation: .tracks, event: "", member: .context, path: field.path.map(camelCase), kind: field.kind)
            let expression =
                camel.path == snake.path ? snake.expression() : "coalesce(\(camel.expression()), \(snake.expression()))"
            return ViewColumn(snake.columnName, expression)
        }
    }

    /// The columns of `table`'s view beyond the common and context ones.
    static func specific(_ table: EventTable) -> [ViewColumn] {
        switch table {
        case .tracks: [ViewColumn("event"), ViewColumn("event_text")]
        case .identifies: []
        case .pages:
            [ViewColumn("name"), ViewColumn("category")]
                + pageProperties.map {
                    ViewColumn($0, WarehouseField(relation: .pages, event: "", member: .properties, path: [$0], kind: .text).expression())
                }
        case .screens: [ViewColumn("name")]
        case .groups: [ViewColumn("group_id")]
        case .aliases: [ViewColumn("previous_id")]
        }
    }

    /// Every fixed column of a message table's view, in order.
    static func fixed(_ table: EventTable) -> [ViewColumn] { common + specific(table) + context }

    /// The fixed columns of `users` and `accounts` (one row per user or group).
    static let profile: [ViewColumn] = [
        ViewColumn("id"),
        // Segment's users table: received_at is the latest message's, uuid_ts the load time.
        ViewColumn("received_at", "t.last_seen_at"), ViewColumn("first_seen_at"), ViewColumn("last_seen_at"),
        ViewColumn("uuid_ts", "t.updated_at"),
    ]

    /// `user_agent` → `userAgent`: how the Segment Spec spells the context keys.
    static func camelCase(_ key: String) -> String {
        let words = key.split(separator: "_")
        guard let first = words.first else { return key }
        return String(first) + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}
