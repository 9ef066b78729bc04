import InletMessages
import PostgresClient

/// A profile table kept from a message table: events.users from identifies (keyed by
/// `user_id`), events.accounts from groups (keyed by `group_id`).
struct ProfileTable {
    let name: String
    /// Positions of the key and of `traits` among the message table's encoded columns.
    let idColumn: Int
    let traitsColumn: Int

    init?(for table: EventTable) {
        let key: String
        switch table {
        case .identifies: (name, key) = ("users", "user_id")
        case .groups: (name, key) = ("accounts", "group_id")
        default: return nil
        }
        guard let id = table.columns.firstIndex(of: key), let traits = table.columns.firstIndex(of: "traits") else { return nil }
        (idColumn, traitsColumn) = (id, traits)
    }

    /// Longest user or group id given a profile row: the id is the profile table's key, and a
    /// btree entry must fit in a third of a page. Longer ids are still stored with their message.
    static let maxIDBytes = 2_048
}

extension BatchWriter {
    /// Keeps events.users / events.accounts current from the identifies / groups this
    /// transaction stored (never from a redelivered copy): traits merged message by message
    /// against the stored profile (`inlet.merge_profile_traits`: a message older than the
    /// profile's last_seen_at only fills gaps, a newer one overwrites, later ones win among
    /// themselves), first and last seen widened.
    ///
    /// Two statements, the values passed as arrays (nothing to stage). The first creates missing
    /// profiles and locks every profile concerned, in key order, so that two writers updating the
    /// same profiles lock them in the same order (`DO UPDATE ... WHERE false` locks without
    /// writing a row version). The second, with every row locked, reads the latest committed
    /// profiles and merges each message by its own timestamp against them.
    func updateProfiles(_ profiles: ProfileTable, from rows: [RowRef], of batch: WriteBatch) throws {
        var tenants = PostgresArrayLiteral()
        var ids = PostgresArrayLiteral()
        var timestamps = PostgresArrayLiteral()
        var traits = PostgresArrayLiteral()
        var count = 0
        for ref in rows {
            let row = batch.row(ref)
            let encoder = batch.encoder(ref)
            guard let id = encoder.field(profiles.idColumn, ofRowAt: row.byteRange.lowerBound),
                id.count <= ProfileTable.maxIDBytes
            else { continue }
            tenants.append(String(batch.tenant(ref)))
            ids.append(utf8: encoder.bytes[id])
            timestamps.append(row.timestamp.postgresText)
            if let json = encoder.field(profiles.traitsColumn, ofRowAt: row.byteRange.lowerBound) {
                traits.append(utf8: encoder.bytes[json].dropFirst())  // jsonb: a version byte, then the text
            } else {
                traits.appendNull()
            }
            count += 1
        }
        guard count > 0 else { return }
        let (tenantsText, idsText) = (tenants.text, ids.text)
        try connection.query(
            """
            INSERT INTO events.\(profiles.name) AS p (tenant_id, id, traits, first_seen_at, last_seen_at)
            SELECT DISTINCT tenant_id, id, '{}'::jsonb, 'infinity'::timestamptz, '-infinity'::timestamptz
            FROM unnest($1::bigint[], $2::text[]) AS m(tenant_id, id)
            ORDER BY tenant_id, id
            ON CONFLICT (tenant_id, id) DO UPDATE SET updated_at = p.updated_at WHERE false
            """, tenantsText, idsText)
        try connection.query(
            """
            UPDATE events.\(profiles.name) AS p SET
                traits = inlet.merge_profile_traits(p.traits, p.last_seen_at, m.times, m.traits),
                first_seen_at = least(p.first_seen_at, m.first_seen),
                last_seen_at = greatest(p.last_seen_at, m.last_seen),
                updated_at = now()
            FROM (
                SELECT tenant_id, id, array_agg("timestamp" ORDER BY "timestamp", n) AS times,
                       array_agg(traits ORDER BY "timestamp", n) AS traits,
                       min("timestamp") AS first_seen, max("timestamp") AS last_seen
                FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::jsonb[]) WITH ORDINALITY
                     AS u(tenant_id, id, "timestamp", traits, n)
                GROUP BY tenant_id, id
            ) AS m
            WHERE p.tenant_id = m.tenant_id AND p.id = m.id
            """, tenantsText, idsText, timestamps.text, traits.text)
    }
}
