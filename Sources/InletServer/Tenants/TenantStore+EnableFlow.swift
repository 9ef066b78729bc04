import PostgresClient

/// The enable flow's tokens, and the first use of any token.
///
/// Starting the flow issues a token for Segment and changes nothing else: the tenant's earlier
/// tokens keep working, with no expiry, so a flow the user abandons (closed tab, wrong
/// workspace, a second click) never breaks the integration Segment already sends with. Only
/// when Segment first sends with the flow's token do the earlier ones get the usual grace.
extension TenantStore {
    /// How long the tokens a flow token supersedes keep working after its first use.
    public static let enableFlowGrace: Duration = .seconds(86_400)

    /// Issues the enable flow's token; the tenant's other tokens are left as they are.
    public func startEnableFlow(id: Int64, actor: Actor = .adminAPI) throws -> TenantToken {
        let token = TenantToken.generate()
        try connection.transaction {
            try requireTenant(id)
            try insert(token, for: id, supersedesOnFirstUse: true)
            try audit(id, "enable_flow_started", actor)
        }
        return token
    }

    /// Records that the token hashed `sha256` authenticated an ingest request `secondsAgo`
    /// seconds before now (the server notes uses in memory and records them in the background).
    ///
    /// Safe to call from every instance that saw the token, in any order and more than once:
    /// `first_used_at` only ever moves earlier, and the earlier tokens' expiry becomes
    /// `least(expiry, first use + grace)`, so the result is the same whichever instance records
    /// first.
    /// Returns true when this call recorded the token's first use (it had none).
    @discardableResult
    public func recordFirstUse(sha256: [UInt8], secondsAgo: Double, grace: Duration = enableFlowGrace) throws -> Bool {
        let graceSeconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        return try connection.transaction { () -> Bool in
            // The row lock makes instances recording the same token take turns.
            guard
                let row = try connection.query(
                    """
                    SELECT tenant_id, supersedes_on_first_use, first_used_at IS NULL
                    FROM inlet.tenant_tokens WHERE token_sha256 = $1 FOR UPDATE
                    """, ByteaValue(sha256)
                ).first
            else { return false }  // the token was deleted meanwhile
            try connection.query(
                """
                UPDATE inlet.tenant_tokens
                SET first_used_at = least(coalesce(first_used_at, 'infinity'), now() - make_interval(secs => $2))
                WHERE token_sha256 = $1
                """, ByteaValue(sha256), max(secondsAgo, 0))
            let tenantID: Int64 = try row.decode(at: 0)
            let supersedes: Bool = try row.decode(at: 1)
            let isFirst: Bool = try row.decode(at: 2)
            guard supersedes else { return isFirst }
            // Tokens issued before this one get their grace from its first use; later ones (a
            // flow started again meanwhile) are left alone: whichever flow Segment completes last wins.
            try connection.query(
                """
                UPDATE inlet.tenant_tokens k
                SET expires_at = least(coalesce(k.expires_at, 'infinity'), used.first_used_at + make_interval(secs => $3))
                FROM inlet.tenant_tokens used
                WHERE used.token_sha256 = $1 AND k.tenant_id = $2 AND k.created_at < used.created_at
                """, ByteaValue(sha256), tenantID, graceSeconds)
            if isFirst {
                try audit(tenantID, "enable_flow_token_used", .ingest, detail: #"{"grace_seconds": \#(graceSeconds)}"#)
            }
            return isFirst
        }
    }
}
