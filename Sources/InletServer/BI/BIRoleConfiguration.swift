import Configuration

/// Settings given to every BI role `inlet tenant grant-bi` creates (README, "BI access").
///
/// The timeouts are PostgreSQL durations (`5min`, `30s`, `90000` for milliseconds); PostgreSQL
/// checks them when the role is created, so a wrong value fails the grant, not a later login.
public struct BIRoleConfiguration: Sendable {
    /// `statement_timeout` of the role: an abandoned query is cancelled, and its locks go with it.
    public var statementTimeout = "5min"
    /// `idle_in_transaction_session_timeout`: a transaction left open (a BEGIN in psql, a tool
    /// that never commits) ends the session instead of holding its locks and snapshot.
    public var idleInTransactionTimeout = "5min"
    /// Most sessions the role may have at once (Metabase's pool holds up to 15 by default).
    public var connectionLimit = 10

    public init() {}

    /// Reads (environment variable, default): `INLET_BI_STATEMENT_TIMEOUT` `5min`,
    /// `INLET_BI_IDLE_IN_TRANSACTION_TIMEOUT` `5min`, `INLET_BI_CONNECTION_LIMIT` `10`.
    public init(reader: ConfigReader) {
        let d = BIRoleConfiguration()
        statementTimeout = reader.string(forKey: "inlet.bi.statement.timeout", default: d.statementTimeout)
        idleInTransactionTimeout = reader.string(forKey: "inlet.bi.idle.in.transaction.timeout", default: d.idleInTransactionTimeout)
        connectionLimit = reader.int(forKey: "inlet.bi.connection.limit", default: d.connectionLimit)
    }
}
