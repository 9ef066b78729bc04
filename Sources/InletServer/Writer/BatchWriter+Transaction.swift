import InletMessages
import Logging
import PostgresClient

/// How a transaction finds the rows stored already (redeliveries) among those it writes.
enum RedeliveryCheck {
    /// None expected: every row by plain COPY (a stored one aborts the transaction).
    case none
    /// These rows are looked up by key first: those found are duplicates, those not found are
    /// staged (their original may be uncommitted still); the other rows by plain COPY.
    case lookUp(Set<RowRef>)
    /// Every row through the staging tables, where `ON CONFLICT DO NOTHING` sorts them out.
    case stageAll
}

extension BatchWriter {
    /// One transaction: the given rows into their tables, then (for the requests in
    /// `sideTablesOf`) their quarantined messages and deletes, and `poisoned` rows into the
    /// quarantine. Adds to `results` only once the transaction committed.
    ///
    /// Fresh rows go straight into the partitioned tables, the usual case: a plain COPY costs
    /// PostgreSQL what the raw `\copy` of `make bench` costs. The rows `likelyStored` (written
    /// lately by this process: ``RecentMessages``) are looked up by key first: a redelivery then
    /// costs an index probe, not the parse of its JSON columns (staging every resend cost as much
    /// as storing it). A stored row that was not expected (a resend first sent to another
    /// instance) aborts the transaction with a unique violation; it is then done again with every
    /// row staged. (No savepoint per table: one round trip each way per table, for every
    /// transaction, to save a case made rare.)
    func commit(
        _ rows: [RowRef], of batch: WriteBatch, results: inout [RequestResult], sideTablesOf sideTables: Set<Int>,
        poisoned: [(RowRef, PostgresError)], likelyStored: Set<RowRef>
    ) throws {
        let check: RedeliveryCheck = likelyStored.isEmpty ? .none : .lookUp(likelyStored)
        do {
            try commit(rows, of: batch, results: &results, sideTablesOf: sideTables, poisoned: poisoned, check: check)
        } catch let error as PostgresError where error.sqlState == SQLState.uniqueViolation {
            transactionRestaged()
            try commit(rows, of: batch, results: &results, sideTablesOf: sideTables, poisoned: poisoned, check: .stageAll)
        }
    }

    private func commit(
        _ rows: [RowRef], of batch: WriteBatch, results: inout [RequestResult], sideTablesOf sideTables: Set<Int>,
        poisoned: [(RowRef, PostgresError)], check: RedeliveryCheck
    ) throws {
        if stagedRowsSinceTruncate >= Self.stagedRowsBeforeTruncate {
            // Deleted staging rows stay as dead tuples (temporary tables are never autovacuumed)
            // and every statement on the stage scans them: empty the tables now and then.
            try connection.execute("TRUNCATE " + EventTable.allCases.map { "stage_\($0.name)" }.joined(separator: ", "))
            stagedRowsSinceTruncate = 0
        }
        // Per request and table: rows this transaction stored, and those found already stored.
        let empty = [Int](repeating: 0, count: EventTable.allCases.count)
        var stored = [[Int]](repeating: empty, count: batch.requests.count)
        var duplicates = [[Int]](repeating: empty, count: batch.requests.count)
        let began = ContinuousClock.now
        transactionBegins()
        try connection.transaction {
            // Rows whose timestamp is their arrival time are claimed by messageId first; a copy
            // claimed before (a retry that arrived at another time) is a duplicate, not written.
            var rows = rows
            if rows.contains(where: { batch.row($0).timestampFromArrival }) {
                let claimedBefore = try claimArrivalKeys(rows.filter { batch.row($0).timestampFromArrival }, of: batch)
                if !claimedBefore.isEmpty {
                    for ref in claimedBefore { duplicates[ref.request][batch.row(ref).table.rawValue] += 1 }
                    rows.removeAll { claimedBefore.contains($0) }
                }
            }
            let whole = rows.count == batch.totalRows
            let rowsByTable = EventTable.allCases.map { table in rows.filter { batch.row($0).table == table } }
            // First the rows that may be stored: looked up, or staged. A staged insert waits for
            // a transaction that holds the same key uncommitted (the original of a resend, still
            // in the other writer); done before this transaction's plain COPYs, it waits holding
            // no row that the other could be waiting for (after them, two crossed resends were
            // a deadlock, found only after deadlock_timeout: a second's stall).
            var checked = [Set<RowRef>](repeating: [], count: EventTable.allCases.count)
            var duplicateRows = Set<RowRef>()
            for table in EventTable.allCases {
                let tableRows = rowsByTable[table.rawValue]
                let toCheck: [RowRef]
                switch check {
                case .none: toCheck = []
                case .lookUp(let likely): toCheck = tableRows.filter { likely.contains($0) }
                case .stageAll: toCheck = tableRows
                }
                guard !toCheck.isEmpty else { continue }
                checked[table.rawValue] = Set(toCheck)
                var toStage = toCheck
                if case .lookUp = check {
                    let found = try lookUpStored(toCheck, in: table, of: batch)
                    duplicateRows.formUnion(found)
                    // Not found: new after all (a write that failed, a colliding hash), or its
                    // original not committed yet. Staged, so the latter is waited for.
                    toStage.removeAll { found.contains($0) }
                }
                if !toStage.isEmpty {
                    duplicateRows.formUnion(try stage(toStage, into: table, of: batch, whole: whole && toStage.count == tableRows.count))
                }
            }
            var profileUpdates: [(ProfileTable, [RowRef])] = []
            for table in EventTable.allCases {
                let tableRows = rowsByTable[table.rawValue]
                guard !tableRows.isEmpty else { continue }
                let fresh = checked[table.rawValue].isEmpty ? tableRows : tableRows.filter { !checked[table.rawValue].contains($0) }
                if !fresh.isEmpty {
                    try copyRows(into: "events.\(table.name)", table, fresh, of: batch, whole: whole && fresh.count == tableRows.count)
                }
                // A redelivered copy changes nothing: neither its table nor the profiles.
                let storedRows = duplicateRows.isEmpty ? tableRows : tableRows.filter { !duplicateRows.contains($0) }
                for ref in tableRows where duplicateRows.contains(ref) { duplicates[ref.request][table.rawValue] += 1 }
                for ref in storedRows { stored[ref.request][table.rawValue] += 1 }
                if let profiles = ProfileTable(for: table), !storedRows.isEmpty { profileUpdates.append((profiles, storedRows)) }
            }
            try recordTraffic(batch, stored: stored.map { $0.reduce(0, +) })
            if !sideTables.isEmpty {
                try quarantine(batch, requests: sideTables, poisoned: poisoned)
                try recordDeletes(batch, requests: sideTables)
            }
            // Last, just before the commit: the upsert locks profile rows that the other writers'
            // transactions may want too (a user identified in both), and they wait for this
            // commit. Done right after the identifies' COPY, the locks were held through the
            // COPYs of the remaining tables, and the half-rate p99 of `make bench` suffered.
            for (profiles, rows) in profileUpdates {
                try updateProfiles(profiles, from: rows, of: batch)
            }
        }
        committed(ContinuousClock.now - began)
        for index in batch.requests.indices {
            for table in EventTable.allCases.map(\.rawValue) {
                results[index].acceptedByTable[table] += stored[index][table]
                results[index].duplicatesByTable[table] += duplicates[index][table]
            }
        }
    }

    /// COPYs `rows` of `table` into `target` (the partitioned table or its staging table).
    private func copyRows(into target: String, _ table: EventTable, _ rows: [RowRef], of batch: WriteBatch, whole: Bool) throws {
        let columns = table.columns.map { "\"\($0)\"" }.joined(separator: ", ")
        try connection.copyIn("COPY \(target) (\(columns)) FROM STDIN (FORMAT binary)") { copy in
            if whole {
                // The usual case: every row of every request, so each request's encoded bytes
                // go as they are.
                for request in batch.requests where !request.batch.encoders[table.rawValue].bytes.isEmpty {
                    try copy.send(encodedRows: request.batch.encoders[table.rawValue])
                }
            } else {
                for ref in rows {
                    let request = batch.requests[ref.request].batch
                    let range = request.rows[ref.row].byteRange
                    try copy.send(row: request.encoders[table.rawValue].bytes[range])
                }
            }
        }
    }

    /// Inserts `rows` (all of `table`) through its staging table, `ON CONFLICT DO NOTHING`; returns
    /// those that were stored already.
    private func stage(_ rows: [RowRef], into table: EventTable, of batch: WriteBatch, whole: Bool) throws -> Set<RowRef> {
        try copyRows(into: "stage_\(table.name)", table, rows, of: batch, whole: whole)
        let inserted = try connection.query(
            """
            INSERT INTO events.\(table.name) SELECT * FROM stage_\(table.name) ORDER BY tenant_id, "timestamp", id
            ON CONFLICT DO NOTHING RETURNING tenant_id, id, "timestamp"
            """)
        stagedRowsSinceTruncate += rows.count
        try connection.execute("DELETE FROM stage_\(table.name)")
        guard inserted.rows.count < rows.count else { return [] }
        let already = try notInserted(rows, inserted: inserted, of: batch)
        guard already.count == rows.count - inserted.rows.count else {
            // The keys did not match up (which would be a bug): count the rows as stored rather
            // than skip the profile updates of stored rows.
            logger.error(
                "redelivered rows do not match the insert's keys; counting them as stored",
                metadata: [
                    "table": "\(table.name)", "rows": "\(rows.count)", "inserted": "\(inserted.rows.count)",
                    "not_inserted_by_key": "\(already.count)",
                ])
            return []
        }
        return already
    }

    /// Rows of `rows` (all of `table`) that are stored already, by one look-up of their keys
    /// (each partition's primary key: tenant_id, timestamp, id). Rows another transaction stores meanwhile are not
    /// seen: their COPY then meets the unique violation, and the transaction is redone staged.
    private func lookUpStored(_ rows: [RowRef], in table: EventTable, of batch: WriteBatch) throws -> Set<RowRef> {
        guard !rows.isEmpty else { return [] }
        var tenants = PostgresArrayLiteral()
        var ids = PostgresArrayLiteral()
        var timestamps = PostgresArrayLiteral()
        for ref in rows {
            let row = batch.row(ref)
            tenants.append(String(batch.tenant(ref)))
            ids.append(utf8: batch.encoder(ref).bytes[row.messageIDRange])
            timestamps.append(row.timestamp.postgresText)
        }
        let found = try connection.query(
            """
            SELECT k.n FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS k(tenant_id, id, "timestamp", n)
            WHERE EXISTS (
                SELECT FROM events.\(table.name) e
                WHERE e.tenant_id = k.tenant_id AND e.id = k.id AND e."timestamp" = k."timestamp")
            """, tenants.text, ids.text, timestamps.text)
        return Set(try found.rows.map { rows[try $0.decode(Int.self, at: 0) - 1] })
    }

    /// Rows of `rows` that another transaction had stored already (the conflict case of
    /// `ON CONFLICT DO NOTHING`): those whose key the insert did not return.
    ///
    /// By the keys, not by comparing the stored rows' `xmin` with this transaction's id: that
    /// works only on one node (on a distributed PostgreSQL each node has its own transaction
    /// ids; docs/SCALING.md).
    private func notInserted(_ rows: [RowRef], inserted: QueryResult, of batch: WriteBatch) throws -> Set<RowRef> {
        // The id as bytes: Swift compares Strings by canonical equivalence, PostgreSQL by bytes
        // (two spellings of "é" are two messages).
        struct Key: Hashable {
            let tenant: Int64
            let id: [UInt8]
            let timestamp: Timestamp
        }
        let insertedKeys = Set(
            try inserted.rows.map { row in
                Key(tenant: try row.decode(at: 0), id: Array(try row.decode(String.self, at: 1).utf8), timestamp: try row.decode(at: 2))
            })
        return Set(
            rows.filter { ref in
                !insertedKeys.contains(
                    Key(tenant: batch.tenant(ref), id: Array(batch.messageID(ref).utf8), timestamp: batch.row(ref).timestamp))
            })
    }
}
