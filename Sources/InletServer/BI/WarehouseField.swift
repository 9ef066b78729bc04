import InletMessages

/// A member of the messages' JSON (a context field, a property, a trait) that the BI views
/// show as a column: found in the data by ``FieldDiscovery`` and kept in `inlet.bi_fields`.
public struct WarehouseField: Sendable, Hashable {
    /// What a field's column holds. A field keeps the kind it was first seen with, so a view's
    /// column never changes type; values of another kind read as NULL (text shows any scalar).
    public enum Kind: String, Sendable, CaseIterable {
        case boolean, number, timestamp, text, json

        /// The column's value from the member's JSON (`inlet_bi`, V0011): NULL for a value of
        /// another kind, so one odd message never fails an analyst's query.
        func expression(_ json: String) -> String {
            switch self {
            case .boolean: "inlet_bi.as_boolean(\(json))"
            case .number: "inlet_bi.as_number(\(json))"
            case .timestamp: "inlet_bi.as_timestamp(\(json))"
            case .text: "inlet_bi.as_text(\(json))"
            case .json: "inlet_bi.as_json(\(json))"
            }
        }

        /// The kind of a field seen with all of `kinds` in one scan: their common kind, else text
        /// (which can show any scalar), or json when one of them is an array or a deep object.
        static func merging(_ kinds: Set<Kind>) -> Kind {
            if kinds.count == 1, let only = kinds.first { return only }
            return kinds.contains(.json) ? .json : .text
        }
    }

    /// The JSON column holding the member: `context`, `properties` or `traits`.
    public enum Member: String, Sendable {
        case context, properties, traits
    }

    /// The events.* table it was seen in.
    public let relation: EventTable
    /// For tracks' properties, the event's slug (each event has its own columns); else "".
    public let event: String
    public let member: Member
    /// Keys from the member down to the value: `["product", "price"]`.
    public let path: [String]
    public let kind: Kind

    public init(relation: EventTable, event: String, member: Member, path: [String], kind: Kind) {
        self.relation = relation
        self.event = event
        self.member = member
        self.path = path
        self.kind = kind
    }

    /// The column's name as Segment's warehouses write it: each key in snake_case, nested keys
    /// joined by `_`, context fields prefixed `context_` (`context.page.url` → `context_page_url`),
    /// at most PostgreSQL's 63 bytes.
    public var columnName: String {
        let name = (member == .context ? ["context"] : []) + path.map(EventSlug.slug)
        return WarehouseName.identifier(name.joined(separator: "_"))
    }

    /// The column's expression over the row alias `t`.
    func expression(from table: String = "t") -> String {
        let keys = path.map(WarehouseName.literal).joined(separator: ", ")
        return kind.expression("\(table).\(member.rawValue) #> ARRAY[\(keys)]::text[]")
    }
}

/// Quoting and length rules for the names the views are created with.
enum WarehouseName {
    /// PostgreSQL's longest identifier, in bytes; longer ones would be truncated by the server.
    static let maxIdentifierBytes = 63

    /// `name`, cut to 63 bytes at a character boundary.
    static func identifier(_ name: String) -> String {
        guard name.utf8.count > maxIdentifierBytes else { return name }
        var cut = ""
        for character in name {
            if cut.utf8.count + String(character).utf8.count > maxIdentifierBytes { break }
            cut.append(character)
        }
        return cut
    }

    /// A quoted identifier, whatever characters it has.
    static func quoted(_ name: String) -> String {
        "\"" + doubling(in: name, [UInt8(ascii: "\"")]) + "\""
    }

    /// A string literal, whatever characters it has and whatever standard_conforming_strings says.
    static func literal(_ text: String) -> String {
        "E'" + doubling(in: text, [UInt8(ascii: "'"), UInt8(ascii: "\\")]) + "'"
    }

    /// `text` with each byte of `bytes` doubled. Bytes, not Characters: Swift compares strings by
    /// grapheme cluster, so a quote followed by a combining accent (or after a prepended mark)
    /// is one Character that `replacing("'", ...)` leaves alone, while PostgreSQL sees a quote.
    /// In UTF-8 an ASCII byte is never part of another character, so doubling bytes is exact.
    static func doubling(in text: String, _ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 2)
        for byte in text.utf8 {
            out.append(byte)
            if bytes.contains(byte) { out.append(byte) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
