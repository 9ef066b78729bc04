/// What `grant-bi` prints once: the role, its password and where it reads.
///
/// The password is not stored anywhere in Inlet: PostgreSQL keeps its SCRAM hash only.
public struct BICredentials: Sendable, Hashable, Encodable {
    public let tenantID: Int64
    public let role: String
    public let password: String
    /// The tenant's BI schema, the role's default `search_path`.
    public let schema: String
    /// The database to connect to (`dbname`).
    public let database: String

    enum CodingKeys: String, CodingKey {
        case tenantID = "tenant_id"
        case role, password, schema, database
    }
}
