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
    /// against the stored profile (a message older than the profile's last_seen_at only fills
    /// gaps, a newer one overwrites, later ones win among themselves), first and last seen
    /// widened.
    ///
    /// The values are passed as arrays (nothing to stage). One upsert, in key order (two writers
    /// updating the same profiles lock them in the same order), does the usual case: a new
    /// profile, or messages all newer than the stored profile (live traffic), whose merged
    /// traits simply overwrite. A profile that also gets older messages (a replay) is left
    /// untouched but locked by it (`DO UPDATE ... WHERE` locks the rows it does not update) and
    /// missing from what it returns; only then does a second statement merge those profiles'
    /// messages against the stored profile. (A first version merged in a SQL function per
    /// profile: under `make bench`, whose timestamps spread over four months so that a third of
    /// the profiles take this path, pg_stat_statements gave it 2.5 s per 15 s run against 1.6 s
    /// for the whole upsert before; aggregates over a join cost about a third of that.)
    func updateProfiles(_ profiles: ProfileTable, from rows: [RowRef], of batch: WriteBatch) throws {
        struct Message {
            let tenant: Int64
            let id: ArraySlice<UInt8>
            let timestamp: String
            let traits: ArraySlice<UInt8>?
        }
        var messages: [Message] = []
        messages.reserveCapacity(rows.count)
        for ref in rows {
            let row = batch.row(ref)
            let encoder = batch.encoder(ref)
            guard let id = encoder.field(profiles.idColumn, ofRowAt: row.byteRange.lowerBound),
                id.count <= ProfileTable.maxIDBytes
            else { continue }
            // jsonb: a version byte, then the text.
            let traits = encoder.field(profiles.traitsColumn, ofRowAt: row.byteRange.lowerBound).map { encoder.bytes[$0].dropFirst() }
            messages.append(Message(tenant: batch.tenant(ref), id: encoder.bytes[id], timestamp: row.timestamp.postgresText, traits: traits))
        }
        guard !messages.isEmpty else { return }
        func arrays(_ messages: some Sequence<Message>) -> [(any PostgresBindable)?] {
            var (tenants, ids, timestamps, traits) = (PostgresArrayLiteral(), PostgresArrayLiteral(), PostgresArrayLiteral(), PostgresArrayLiteral())
            for message in messages {
                tenants.append(String(message.tenant))
                ids.append(utf8: message.id)
                timestamps.append(message.timestamp)
                if let json = message.traits { traits.append(utf8: json) } else { traits.appendNull() }
            }
            return [tenants.text, ids.text, timestamps.text, traits.text]
        }
        let all = arrays(messages)
        let inserted = try connection.query(
            """
            INSERT INTO events.\(profiles.name) AS p (tenant_id, id, traits, first_seen_at, last_seen_at)
            SELECT tenant_id, id,
                   coalesce(inlet.jsonb_merge_agg(traits ORDER BY "timestamp", n) FILTER (WHERE jsonb_typeof(traits) = 'object'), '{}'),
                   min("timestamp"), max("timestamp")
            FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::jsonb[]) WITH ORDINALITY
                 AS u(tenant_id, id, "timestamp", traits, n)
            GROUP BY tenant_id, id
            ORDER BY tenant_id, id
            ON CONFLICT (tenant_id, id) DO UPDATE SET
                traits = p.traits || EXCLUDED.traits,
                first_seen_at = least(p.first_seen_at, EXCLUDED.first_seen_at),
                last_seen_at = EXCLUDED.last_seen_at,
                updated_at = now()
            WHERE EXCLUDED.first_seen_at >= p.last_seen_at
            RETURNING tenant_id, id
            """, parameters: all)
        struct Key: Hashable {
            let tenant: Int64
            let id: String
        }
        // Every message's profile done (each profile had one message): nothing left, and no key
        // to build per message.
        guard inserted.rows.count < messages.count else { return }
        let keys = Set(messages.map { Key(tenant: $0.tenant, id: String(decoding: $0.id, as: UTF8.self)) })
        guard inserted.rows.count < keys.count else { return }
        let done = Set(try inserted.rows.map { Key(tenant: try $0.decode(at: 0), id: try $0.decode(at: 1)) })
        let existing = messages.filter { !done.contains(Key(tenant: $0.tenant, id: String(decoding: $0.id, as: UTF8.self))) }
        guard !existing.isEmpty else { return }
        // Every profile left is locked by this transaction since the upsert, so the stored
        // last_seen_at read here is the one the UPDATE changes: split each profile's messages
        // into those older than it (they only fill gaps) and the others (they overwrite).
        try connection.query(
            """
            UPDATE events.\(profiles.name) AS p SET
                traits = m.older || p.traits || m.newer,
                first_seen_at = least(p.first_seen_at, m.first_seen),
                last_seen_at = greatest(p.last_seen_at, m.last_seen),
                updated_at = now()
            FROM (
                SELECT u.tenant_id, u.id,
                       coalesce(inlet.jsonb_merge_agg(u.traits ORDER BY u."timestamp", u.n)
                           FILTER (WHERE u."timestamp" < s.last_seen_at AND jsonb_typeof(u.traits) = 'object'), '{}') AS older,
                       coalesce(inlet.jsonb_merge_agg(u.traits ORDER BY u."timestamp", u.n)
                           FILTER (WHERE u."timestamp" >= s.last_seen_at AND jsonb_typeof(u.traits) = 'object'), '{}') AS newer,
                       min(u."timestamp") AS first_seen, max(u."timestamp") AS last_seen
                FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::jsonb[]) WITH ORDINALITY
                     AS u(tenant_id, id, "timestamp", traits, n)
                JOIN events.\(profiles.name) AS s ON s.tenant_id = u.tenant_id AND s.id = u.id
                GROUP BY u.tenant_id, u.id
            ) AS m
            WHERE p.tenant_id = m.tenant_id AND p.id = m.id
            """, parameters: existing.count == messages.count ? all : arrays(existing))
    }
}
