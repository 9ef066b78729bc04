/// A tenant's BI login role, as mapped in `inlet.bi_roles`.
public struct BIRole: Sendable, Hashable, Codable {
    public let tenantID: Int64
    /// The PostgreSQL role name (a login role, member of `inlet_bi_reader`).
    public let role: String
    /// The tenant's BI schema: the role's `search_path`.
    public let schema: String
    public let createdAt: String

    enum CodingKeys: String, CodingKey {
        case tenantID = "tenant_id"
        case role, schema
        case createdAt = "created_at"
    }
}
