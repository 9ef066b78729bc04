import InletMessages
import PostgresClient

/// Writes batches of requests through one database connection, in one transaction each:
/// binary COPY straight into the partitioned tables; when a row is stored already (a
/// redelivery), the transaction is done again through per-connection staging tables and
/// `INSERT ... ON CONFLICT DO NOTHING`, so a message delivered twice is stored once.
///
/// Blocking: runs on its writer's own thread. Throws only when the connection failed, in which
/// case nothing can be said of the batch and its requests are answered 503 (a retry is safe:
/// rows that did commit are deduplicated).
final class BatchWriter {
    let connection: Connection
    /// Months (year × 12 + month − 1) whose partitions are known to exist.
    private var knownMonths = Set<Int>()
    /// Rows deleted from the staging tables since they were last truncated.
    private var stagedRowsSinceTruncate = 0
    static let stagedRowsBeforeTruncate = 5_000

    init(url: String) throws {
        connection = try Connection(url: url, applicationName: "inlet-writer")
        // Staging tables live as long as the connection. Not ON COMMIT DELETE ROWS: truncating a
        // table at every commit cost about 25 ms a transaction (measured by `make bench`); rows are
        // deleted after use instead, and the tables truncated now and then (see `commit`).
        for table in EventTable.allCases {
            try connection.execute("CREATE TEMP TABLE stage_\(table.name) (LIKE events.\(table.name) INCLUDING DEFAULTS)")
        }
    }

    /// The outcome of each request, in the order given.
    struct RequestResult: Equatable {
        /// Rows stored now and rows found already stored, per table (`EventTable.rawValue`).
        var acceptedByTable = [Int](repeating: 0, count: EventTable.allCases.count)
        var duplicatesByTable = [Int](repeating: 0, count: EventTable.allCases.count)
        var rejected: [RejectedMessage] = []

        var accepted: Int { acceptedByTable.reduce(0, +) }
        var duplicates: Int { duplicatesByTable.reduce(0, +) }
    }

    /// One row of one request.
    struct RowRef: Hashable {
        let request: Int
        let row: Int
    }

    func write(_ requests: [PendingRequest]) throws -> [RequestResult] {
        var results = requests.map { RequestResult(rejected: $0.batch.rejects) }
        let rows = uniqueRows(requests, results: &results)
        try ensurePartitions(for: rows, in: requests)

        var poisoned: [(RowRef, PostgresError)] = []
        do {
            try withRetries { try self.commit(rows, of: requests, results: &results, sideTables: true, poisoned: []) }
        } catch let error as PostgresError where !error.isConnectionFailure {
            if error.sqlState == SQLState.noPartitionForRow {
                // Perhaps a partition was dropped since it was cached: make sure, then go on.
                knownMonths.removeAll()
                try ensurePartitions(for: rows, in: requests)
            }
            // One or more messages the database refuses: find them by bisection, commit the rest,
            // then the quarantine (validation rejects and the refused messages) on its own.
            try isolate(rows[...], of: requests, results: &results, poisoned: &poisoned)
            try withRetries {
                try self.commit([], of: requests, results: &results, sideTables: true, poisoned: poisoned)
            }
            for (ref, error) in poisoned {
                results[ref.request].rejected.append(Self.rejection(of: ref, in: requests, error: error))
            }
        }
        return results
    }

    // MARK: - Steps

    /// Every row to write, without the repeats inside this batch (counted as duplicates): the
    /// first of rows with the same tenant, table, timestamp and messageId is kept.
    ///
    /// Rows are sorted by a hash of that key and only neighbours with equal hashes compared. A
    /// `Set` of keys holding slices of the encoders cost a third of the writer thread in `perf`
    /// (rehashing as it grew, reference counting every slice); this costs ~0.05 µs a row.
    private func uniqueRows(_ requests: [PendingRequest], results: inout [RequestResult]) -> [RowRef] {
        var refs: [RowRef] = []
        var hashes: [(hash: Int, position: Int)] = []
        let total = requests.reduce(0) { $0 + $1.batch.rows.count }
        refs.reserveCapacity(total)
        hashes.reserveCapacity(total)
        for (requestIndex, request) in requests.enumerated() {
            for (rowIndex, row) in request.batch.rows.enumerated() {
                var hasher = Hasher()
                hasher.combine(request.tenantID)
                hasher.combine(row.timestamp.microsecondsSinceUnixEpoch)
                hasher.combine(row.table.rawValue)
                request.batch.encoders[row.table.rawValue].bytes.withUnsafeBytes {
                    hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0[row.messageIDRange]))
                }
                hashes.append((hasher.finalize(), refs.count))
                refs.append(RowRef(request: requestIndex, row: rowIndex))
            }
        }
        hashes.sort { $0.hash != $1.hash ? $0.hash < $1.hash : $0.position < $1.position }

        var isRepeat = [Bool](repeating: false, count: refs.count)
        var groupStart = 0
        while groupStart < hashes.count {
            var groupEnd = groupStart + 1
            while groupEnd < hashes.count && hashes[groupEnd].hash == hashes[groupStart].hash { groupEnd += 1 }
            // Nearly always a group of one; in a larger one, each row against the earlier ones.
            if groupEnd - groupStart > 1 {
                for later in (groupStart + 1)..<groupEnd where !isRepeat[hashes[later].position] {
                    for earlier in groupStart..<later
                    where !isRepeat[hashes[earlier].position]
                        && sameMessage(refs[hashes[earlier].position], refs[hashes[later].position], in: requests)
                    {
                        isRepeat[hashes[later].position] = true
                        break
                    }
                }
            }
            groupStart = groupEnd
        }

        var rows: [RowRef] = []
        rows.reserveCapacity(refs.count)
        for (position, ref) in refs.enumerated() {
            if isRepeat[position] {
                let table = requests[ref.request].batch.rows[ref.row].table
                results[ref.request].duplicatesByTable[table.rawValue] += 1
            } else {
                rows.append(ref)
            }
        }
        return rows
    }

    /// Whether two rows are the same message: tenant, table, timestamp and messageId.
    private func sameMessage(_ a: RowRef, _ b: RowRef, in requests: [PendingRequest]) -> Bool {
        let (requestA, requestB) = (requests[a.request], requests[b.request])
        let (rowA, rowB) = (requestA.batch.rows[a.row], requestB.batch.rows[b.row])
        return requestA.tenantID == requestB.tenantID && rowA.table == rowB.table && rowA.timestamp == rowB.timestamp
            && requestA.batch.encoders[rowA.table.rawValue].bytes[rowA.messageIDRange]
                .elementsEqual(requestB.batch.encoders[rowB.table.rawValue].bytes[rowB.messageIDRange])
    }

    /// Creates missing months' partitions, each in its own short transaction before the data
    /// transaction (creating a partition locks its parent; keeping that out of the data
    /// transaction keeps the lock short and deadlock-free).
    private func ensurePartitions(for rows: [RowRef], in requests: [PendingRequest]) throws {
        var months = Set<Int>()
        for ref in rows {
            let c = requests[ref.request].batch.rows[ref.row].timestamp.components
            months.insert(c.year * 12 + c.month - 1)
        }
        for month in months.subtracting(knownMonths).sorted() {
            let first = Timestamp(.init(year: month / 12, month: month % 12 + 1, day: 1))
            try connection.query("SELECT inlet.ensure_month_partitions($1)", first)
            knownMonths.insert(month)
        }
    }

    /// Retries a transaction the server aborted for a deadlock or serialisation conflict.
    private func withRetries(_ body: () throws -> Void) throws {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error as PostgresError
                where (error.sqlState == SQLState.deadlockDetected || error.sqlState == SQLState.serializationFailure)
                && attempt < 3
            {
                attempt += 1
            }
        }
    }

    /// Halves `rows` until each refused row stands alone; commits every half that the server takes.
    private func isolate(
        _ rows: ArraySlice<RowRef>, of requests: [PendingRequest], results: inout [RequestResult],
        poisoned: inout [(RowRef, PostgresError)]
    ) throws {
        guard !rows.isEmpty else { return }
        do {
            try withRetries { try self.commit(Array(rows), of: requests, results: &results, sideTables: false, poisoned: []) }
        } catch let error as PostgresError where !error.isConnectionFailure {
            if rows.count == 1, let only = rows.first {
                poisoned.append((only, error))
                return
            }
            let middle = rows.startIndex + rows.count / 2
            try isolate(rows[..<middle], of: requests, results: &results, poisoned: &poisoned)
            try isolate(rows[middle...], of: requests, results: &results, poisoned: &poisoned)
        }
    }

    /// One transaction: the given rows into their tables; with `sideTables`, also every
    /// request's quarantined messages and deletes, and `poisoned` rows into the quarantine.
    /// Adds to `results` only once the transaction committed.
    ///
    /// First straight into the partitioned tables, the usual case: no row is stored yet, and a
    /// plain COPY costs PostgreSQL what the raw `\copy` of `make bench` costs. A redelivered row
    /// aborts that transaction with a unique violation; it is then done again through the
    /// staging tables, where `ON CONFLICT DO NOTHING` sorts the stored rows out. (No savepoint
    /// per table: one round trip each way per table for a case that is rare.)
    private func commit(
        _ rows: [RowRef], of requests: [PendingRequest], results: inout [RequestResult], sideTables: Bool,
        poisoned: [(RowRef, PostgresError)]
    ) throws {
        do {
            try commit(rows, of: requests, results: &results, sideTables: sideTables, poisoned: poisoned, staged: false)
        } catch let error as PostgresError where error.sqlState == SQLState.uniqueViolation {
            try commit(rows, of: requests, results: &results, sideTables: sideTables, poisoned: poisoned, staged: true)
        }
    }

    private func commit(
        _ rows: [RowRef], of requests: [PendingRequest], results: inout [RequestResult], sideTables: Bool,
        poisoned: [(RowRef, PostgresError)], staged: Bool
    ) throws {
        if staged && stagedRowsSinceTruncate >= Self.stagedRowsBeforeTruncate {
            // Deleted staging rows stay as dead tuples (temporary tables are never autovacuumed)
            // and every statement on the stage scans them: empty the tables now and then.
            try connection.execute("TRUNCATE " + EventTable.allCases.map { "stage_\($0.name)" }.joined(separator: ", "))
            stagedRowsSinceTruncate = 0
        }
        // Per request and table: rows written by this transaction, and those already stored.
        let empty = [Int](repeating: 0, count: EventTable.allCases.count)
        var written = [[Int]](repeating: empty, count: requests.count)
        var duplicates = [[Int]](repeating: empty, count: requests.count)
        let whole = rows.count == requests.reduce(0) { $0 + $1.batch.rows.count }
        try connection.transaction {
            var profileUpdates: [(ProfileTable, [RowRef])] = []
            for table in EventTable.allCases {
                let tableRows = rows.filter { requests[$0.request].batch.rows[$0.row].table == table }
                guard !tableRows.isEmpty else { continue }
                for ref in tableRows { written[ref.request][table.rawValue] += 1 }
                if staged {
                    try copyRows(into: "stage_\(table.name)", table, tableRows, of: requests, whole: whole)
                    let inserted = try connection.query(
                        "INSERT INTO events.\(table.name) SELECT * FROM stage_\(table.name) ORDER BY tenant_id, \"timestamp\", id ON CONFLICT DO NOTHING"
                    ).affectedRows
                    if inserted < tableRows.count {
                        for ref in try alreadyStored(table, tableRows, of: requests) { duplicates[ref.request][table.rawValue] += 1 }
                    }
                    try connection.execute("DELETE FROM stage_\(table.name)")
                    stagedRowsSinceTruncate += tableRows.count
                } else {
                    try copyRows(into: "events.\(table.name)", table, tableRows, of: requests, whole: whole)
                }
                if let profiles = ProfileTable(for: table) { profileUpdates.append((profiles, tableRows)) }
            }
            try recordTraffic(
                requests, stored: requests.indices.map { written[$0].reduce(0, +) - duplicates[$0].reduce(0, +) })
            if sideTables {
                try quarantine(requests, poisoned: poisoned)
                try recordDeletes(requests)
            }
            // Last, just before the commit: the upsert locks profile rows that the other writers'
            // transactions may want too (a user identified in both), and they wait for this
            // commit. Done right after the identifies' COPY, the locks were held through the
            // COPYs of the remaining tables, and the half-rate p99 of `make bench` suffered.
            for (profiles, rows) in profileUpdates {
                try updateProfiles(profiles, from: rows, of: requests)
            }
        }
        for index in requests.indices {
            for table in EventTable.allCases.map(\.rawValue) {
                results[index].acceptedByTable[table] += written[index][table] - duplicates[index][table]
                results[index].duplicatesByTable[table] += duplicates[index][table]
            }
        }
    }

    /// COPYs `rows` of `table` into `target` (the partitioned table or its staging table).
    private func copyRows(into target: String, _ table: EventTable, _ rows: [RowRef], of requests: [PendingRequest], whole: Bool) throws {
        let columns = table.columns.map { "\"\($0)\"" }.joined(separator: ", ")
        try connection.copyIn("COPY \(target) (\(columns)) FROM STDIN (FORMAT binary)") { copy in
            if whole {
                // The usual case: every row of every request, so each request's encoded bytes
                // go as they are.
                for request in requests where !request.batch.encoders[table.rawValue].bytes.isEmpty {
                    try copy.send(encodedRows: request.batch.encoders[table.rawValue])
                }
            } else {
                for ref in rows {
                    let batch = requests[ref.request].batch
                    let range = batch.rows[ref.row].byteRange
                    try copy.send(bytes: batch.encoders[table.rawValue].bytes[range])
                }
            }
        }
    }

    /// Rows of `rows` that another transaction had stored already (the conflict case of
    /// `ON CONFLICT DO NOTHING`): rows this transaction inserted carry its transaction id.
    private func alreadyStored(_ table: EventTable, _ rows: [RowRef], of requests: [PendingRequest]) throws -> [RowRef] {
        let stored = try connection.query(
            """
            SELECT s.tenant_id, s.id, s."timestamp" FROM stage_\(table.name) s
            JOIN events.\(table.name) t USING (tenant_id, "timestamp", id)
            WHERE t.xmin::text::bigint <> pg_current_xact_id()::text::bigint % 4294967296
            """)
        struct Key: Hashable {
            let tenant: Int64
            let id: String
            let timestamp: Timestamp
        }
        var byKey: [Key: RowRef] = [:]
        for ref in rows {
            let request = requests[ref.request]
            let row = request.batch.rows[ref.row]
            let id = String(decoding: request.batch.encoders[table.rawValue].bytes[row.messageIDRange], as: UTF8.self)
            byKey[Key(tenant: request.tenantID, id: id, timestamp: row.timestamp)] = ref
        }
        return try stored.rows.compactMap { row in
            byKey[Key(tenant: try row.decode(at: 0), id: try row.decode(at: 1), timestamp: try row.decode(at: 2))]
        }
    }

    /// Longest user or group id given a profile row: the id is the profile table's key, and a
    /// btree entry must fit in a third of a page. Longer ids are still stored with their message.
    static let maxProfileIDBytes = 2_048

    /// Keeps events.users / events.accounts current from this transaction's identifies / groups:
    /// traits merged (a newer message's keys win; an older, replayed one only fills gaps), first
    /// and last seen widened. The values come from the encoded rows, passed as arrays: one
    /// statement whatever the number of rows, and nothing to stage. Ordered by key, so two
    /// writers updating the same profiles lock them in the same order.
    private func updateProfiles(_ profiles: ProfileTable, from rows: [RowRef], of requests: [PendingRequest]) throws {
        var tenants = PostgresArrayLiteral()
        var ids = PostgresArrayLiteral()
        var timestamps = PostgresArrayLiteral()
        var traits = PostgresArrayLiteral()
        var count = 0
        for ref in rows {
            let request = requests[ref.request]
            let row = request.batch.rows[ref.row]
            let encoder = request.batch.encoders[row.table.rawValue]
            guard let id = encoder.field(profiles.idColumn, ofRowAt: row.byteRange.lowerBound),
                id.count <= Self.maxProfileIDBytes
            else { continue }
            tenants.append(String(request.tenantID))
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
        try connection.query(
            """
            INSERT INTO events.\(profiles.name) AS p (tenant_id, id, traits, first_seen_at, last_seen_at)
            SELECT tenant_id, id, coalesce(inlet.jsonb_merge_agg(traits ORDER BY "timestamp")
                       FILTER (WHERE jsonb_typeof(traits) = 'object'), '{}'),
                   min("timestamp"), max("timestamp")
            FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::jsonb[]) AS m(tenant_id, id, "timestamp", traits)
            GROUP BY tenant_id, id
            ORDER BY tenant_id, id
            ON CONFLICT (tenant_id, id) DO UPDATE SET
                traits = CASE WHEN EXCLUDED.last_seen_at >= p.last_seen_at THEN p.traits || EXCLUDED.traits
                              ELSE EXCLUDED.traits || p.traits END,
                first_seen_at = least(p.first_seen_at, EXCLUDED.first_seen_at),
                last_seen_at = greatest(p.last_seen_at, EXCLUDED.last_seen_at),
                updated_at = now()
            """, tenants.text, ids.text, timestamps.text, traits.text)
    }

    /// Adds this transaction's stored messages to each tenant's hourly traffic (what
    /// `inlet tenant show` reports), in the writer's own row.
    private func recordTraffic(_ requests: [PendingRequest], stored: [Int]) throws {
        var perTenant: [Int64: Int] = [:]
        for index in requests.indices where stored[index] > 0 {
            perTenant[requests[index].tenantID, default: 0] += stored[index]
        }
        guard !perTenant.isEmpty else { return }
        let tenants = Array(perTenant.keys)
        try connection.query(
            """
            INSERT INTO inlet.tenant_traffic AS r (tenant_id, hour, writer, messages, last_message_at)
            SELECT tenant, date_trunc('hour', now()), pg_backend_pid(), messages, now()
            FROM unnest($1::bigint[], $2::bigint[]) AS u(tenant, messages)
            ON CONFLICT (tenant_id, hour, writer) DO UPDATE
            SET messages = r.messages + EXCLUDED.messages, last_message_at = EXCLUDED.last_message_at
            """, PostgresArrayLiteral(tenants).text, PostgresArrayLiteral(tenants.map { perTenant[$0] ?? 0 }).text)
    }

    private func quarantine(_ requests: [PendingRequest], poisoned: [(RowRef, PostgresError)]) throws {
        let rejects = requests.flatMap { request in request.batch.rejects.map { (request.tenantID, $0) } }
            + poisoned.map { ref, error in (requests[ref.request].tenantID, Self.rejection(of: ref, in: requests, error: error)) }
        guard !rejects.isEmpty else { return }
        try connection.copyIn(
            "COPY inlet.rejected_messages (tenant_id, message_id, reason, raw_message) FROM STDIN (FORMAT binary)"
        ) { copy in
            for (tenant, reject) in rejects {
                try copy.row(fieldCount: 4) { row in
                    row.appendInt8(tenant)
                    if let id = reject.messageID { row.appendText(id) } else { row.appendNull() }
                    row.appendText(reject.reason)
                    row.appendBytea(reject.raw)
                }
            }
        }
    }

    private func recordDeletes(_ requests: [PendingRequest]) throws {
        for request in requests {
            for delete in request.batch.deletes {
                try connection.query(
                    """
                    INSERT INTO inlet.delete_requests (tenant_id, message_id, user_id, received_at)
                    VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                    """, request.tenantID, delete.messageID, delete.userID, delete.receivedAt)
            }
        }
    }

    /// A row the database refused, as a quarantine entry: the reason names the server's message.
    static func rejection(of ref: RowRef, in requests: [PendingRequest], error: PostgresError) -> RejectedMessage {
        let batch = requests[ref.request].batch
        let row = batch.rows[ref.row]
        let encoder = batch.encoders[row.table.rawValue]
        let id = String(decoding: encoder.bytes[row.messageIDRange], as: UTF8.self)
        // The raw message is not kept past parsing; the encoded row is what the database saw.
        return RejectedMessage(
            messageIndex: row.messageIndex, messageID: id,
            reason: "the database refused this message: \(error.message)",
            raw: Array(encoder.bytes[row.byteRange]))
    }
}

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
}
