import InletMessages

/// One view of a tenant's BI schema, as it is to be created.
public struct ViewDefinition: Sendable, Hashable {
    public let name: String
    public let columns: [String]
    /// `CREATE OR REPLACE VIEW ...`: replacing keeps the view's grants and analysts' views
    /// built on it, which works because columns are only ever appended.
    public let sql: String
}

/// The views of one tenant's BI schema, generated from its catalog of discovered fields: a pure
/// function of the catalog, so the same catalog always gives the same SQL (and an unchanged
/// view is left alone).
///
/// Every view is `security_invoker`: a BI role reads through it with its own rights, so the
/// row-level security of the shared tables applies to it as to a direct query; the view's own
/// `tenant_id = N` keeps it to the tenant for every other reader (an operator, a superuser).
public struct WarehouseViews: Sendable {
    public let tenantID: Int64
    public let schema: String
    /// Discovered fields in the order they were discovered (`inlet.bi_fields.position`).
    public let fields: [WarehouseField]
    /// Track events' slugs, in the order they were discovered.
    public let events: [String]

    /// PostgreSQL allows 1,664 columns in a view's select list; past this many discovered
    /// fields a view takes no more (Segment too refuses unbounded property spaces).
    public static let maxDiscoveredColumns = 1_000
    /// The standard views: an event of one of these names gets its view named `<slug>_event`.
    public static let standardViews = ["tracks", "pages", "screens", "identifies", "groups", "aliases", "users", "accounts"]

    public init(tenantID: Int64, schema: String, fields: [WarehouseField], events: [String]) {
        self.tenantID = tenantID
        self.schema = schema
        self.fields = fields
        self.events = events
    }

    public func definitions() -> [ViewDefinition] {
        var views: [ViewDefinition] = []
        for table in EventTable.allCases {
            views.append(
                view(
                    table.name, from: table, fixed: WarehouseColumns.fixed(table),
                    fields: fields.filter { $0.relation == table && ($0.member == .context || $0.event.isEmpty) }))
        }
        views.append(
            view("users", from: "users", fixed: WarehouseColumns.profile, fields: fields.filter { $0.relation == .identifies && $0.member == .traits }))
        views.append(
            view("accounts", from: "accounts", fixed: WarehouseColumns.profile, fields: fields.filter { $0.relation == .groups && $0.member == .traits }))
        var taken = Set(Self.standardViews)
        for event in events {
            let name = WarehouseName.identifier(Self.standardViews.contains(event) ? event + "_event" : event)
            guard taken.insert(name).inserted else { continue }
            views.append(
                view(
                    name, from: .tracks, fixed: WarehouseColumns.fixed(.tracks),
                    fields: fields.filter { $0.relation == .tracks && ($0.member == .context || $0.event == event) },
                    event: event))
        }
        return views
    }

    private func view(
        _ name: String, from table: EventTable, fixed: [ViewColumn], fields: [WarehouseField], event: String? = nil
    ) -> ViewDefinition {
        view(name, from: table.name, fixed: fixed, fields: fields, event: event)
    }

    /// The view `name` over `events.<table>`: the fixed columns, then each discovered field
    /// whose column name is still free, in discovery order.
    private func view(_ name: String, from table: String, fixed: [ViewColumn], fields: [WarehouseField], event: String? = nil)
        -> ViewDefinition
    {
        var columns = fixed
        var used = Set(fixed.map(\.name))
        var discovered = 0
        for field in fields where discovered < Self.maxDiscoveredColumns {
            let name = field.columnName
            guard used.insert(name).inserted else { continue }
            columns.append(ViewColumn(name, field.expression()))
            discovered += 1
        }
        var filter = "t.tenant_id = \(tenantID)"
        if let event { filter += " AND t.event = \(WarehouseName.literal(event))" }
        let select = columns.map { "    \($0.expression) AS \(WarehouseName.quoted($0.name))" }.joined(separator: ",\n")
        let sql = """
            CREATE OR REPLACE VIEW \(WarehouseName.quoted(schema)).\(WarehouseName.quoted(name)) WITH (security_invoker = true) AS
            SELECT
            \(select)
            FROM events.\(WarehouseName.quoted(table)) AS t
            WHERE \(filter)
            """
        return ViewDefinition(name: name, columns: columns.map(\.name), sql: sql)
    }
}
