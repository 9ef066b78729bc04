import InletMessages
import Logging
import PostgresClient

/// Which rows of a transaction go through the staging tables (`INSERT … ON CONFLICT DO NOTHING`)
/// rather than straight into the partitioned tables by COPY.
enum Staging {
    case none
    case rows(Set<RowRef>)
    case all

    var stagesNothing: Bool {
        if case .none = self { true } else { false }
    }

    func stages(_ ref: RowRef) -> Bool {
        switch self {
        case .none: false
        case .rows(let rows): rows.contains(ref)
        case .all: true
        }
    }
}

extension BatchWriter {
    /// One transaction: the given rows into their tables, then (for the requests in
    /// `sideTablesOf`) their quarantined messages and deletes, and `poisoned` rows into the
    /// quarantine. Adds to `results` only once the transaction committed.
    ///
    /// Fresh rows go straight into the partitioned tables, the usual case: a plain COPY costs
    /// PostgreSQL what the raw `\copy` of `make bench` costs. The rows `likelyStored` (written
    /// lately by this process: ``RecentMessages``) go through the staging tables, where
    /// `ON CONFLICT DO NOTHING` sorts the stored ones out. A redelivered row that was not
    /// expected aborts the transaction with a unique violation; it is then done again with every
    /// row staged. (No savepoint per table: one round trip each way per table, for every
    /// transaction, to save a case that the expected ones have made rare.)
    func commit(
        _ rows: [RowRef], of batch: WriteBatch, results: inout [RequestResult], sideTablesOf sideTables: Set<Int>,
        poisoned: [(RowRef, PostgresError)], likelyStored: Set<RowRef>
    ) throws {
        let staging: Staging = likelyStored.isEmpty ? .none : .rows(likelyStored)
        do {
            try commit(rows, of: batch, results: &results, sideTablesOf: sideTables, poisoned: poisoned, staging: staging)
        } catch let error as PostgresError where error.sqlState == SQLState.uniqueViolation {
            transactionRestaged()
            try commit(rows, of: batch, results: &results, sideTablesOf: sideTables, poisoned: poisoned, staging: .all)
        }
    }

    private func commit(
        _ rows: [RowRef], of batch: WriteBatch, results: inout [RequestResult], sideTablesOf sideTables: Set<Int>,
        poisoned: [(RowRef, PostgresError)], staging: Staging
    ) throws {
        if !staging.stagesNothing && stagedRowsSinceTruncate >= Self.stagedRowsBeforeTruncate {
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
            var profileUpdates: [(ProfileTable, [RowRef])] = []
            for table in EventTable.allCases {
                var tableRows = rows.filter { batch.row($0).table == table }
                guard !tableRows.isEmpty else { continue }
                let stagedRows = tableRows.filter { staging.stages($0) }
                if stagedRows.count < tableRows.count {
                    let plainRows = stagedRows.isEmpty ? tableRows : tableRows.filter { !staging.stages($0) }
                    try copyRows(into: "events.\(table.name)", table, plainRows, of: batch, whole: whole && stagedRows.isEmpty)
                }
                if !stagedRows.isEmpty {
                    try copyRows(into: "stage_\(table.name)", table, stagedRows, of: batch, whole: whole && stagedRows.count == tableRows.count)
                    let inserted = try connection.query(
                        """
                        INSERT INTO events.\(table.name) SELECT * FROM stage_\(table.name) ORDER BY tenant_id, "timestamp", id
                        ON CONFLICT DO NOTHING RETURNING tenant_id, id, "timestamp"
                        """)
                    stagedRowsSinceTruncate += stagedRows.count
                    if inserted.rows.count < stagedRows.count {
                        var already = try alreadyStored(stagedRows, inserted: inserted, of: batch)
                        if already.count != stagedRows.count - inserted.rows.count {
                            // The keys did not match up (which would be a bug): count the rows
                            // as stored rather than skip the profile updates of stored rows.
                            logger.error(
                                "redelivered rows do not match the insert's keys; counting them as stored",
                                metadata: [
                                    "table": "\(table.name)", "rows": "\(stagedRows.count)", "inserted": "\(inserted.rows.count)",
                                    "not_inserted_by_key": "\(already.count)",
                                ])
                            already = []
                        }
                        for ref in already { duplicates[ref.request][table.rawValue] += 1 }
                        // A redelivered copy changes nothing: neither its table nor the profiles.
                        tableRows.removeAll { already.contains($0) }
                    }
                    try connection.execute("DELETE FROM stage_\(table.name)")
                }
                for ref in tableRows { stored[ref.request][table.rawValue] += 1 }
                if let profiles = ProfileTable(for: table), !tableRows.isEmpty { profileUpdates.append((profiles, tableRows)) }
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
                    try copy.send(bytes: request.encoders[table.rawValue].bytes[range])
                }
            }
        }
    }

    /// Rows of `rows` that another transaction had stored already (the conflict case of
    /// `ON CONFLICT DO NOTHING`): those whose key the insert did not return.
    ///
    /// By the keys, not by comparing the stored rows' `xmin` with this transaction's id: that
    /// works only on one node (on a distributed PostgreSQL each node has its own transaction
    /// ids; docs/SCALING.md).
    private func alreadyStored(_ rows: [RowRef], inserted: QueryResult, of batch: WriteBatch) throws -> Set<RowRef> {
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
