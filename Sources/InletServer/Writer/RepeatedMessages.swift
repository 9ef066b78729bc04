import InletMessages
import PostgresClient

/// Finds the messages delivered more than once within one transaction's requests.
enum RepeatedMessages {
    /// Every row to write, without the repeats inside this batch (counted as duplicates in
    /// `results`): the first of rows with the same tenant, table, timestamp and messageId is kept.
    /// Requests in `skipped` (refused) take no part.
    ///
    /// Rows are sorted by a hash of that key and only neighbours with equal hashes compared. A
    /// `Set` of keys holding slices of the encoders cost a third of the writer thread in `perf`
    /// (rehashing as it grew, reference counting every slice); this costs ~0.05 µs a row.
    static func unique(in batch: WriteBatch, skipping skipped: Set<Int> = [], results: inout [RequestResult]) -> [RowRef] {
        let requests = batch.requests
        var refs: [RowRef] = []
        var hashes: [(hash: Int, position: Int)] = []
        refs.reserveCapacity(batch.totalRows)
        hashes.reserveCapacity(batch.totalRows)
        for (requestIndex, request) in requests.enumerated() where !skipped.contains(requestIndex) {
            for rowIndex in request.batch.rows.indices {
                hashes.append((key(of: rowIndex, in: request.batch, tenant: request.tenantID), refs.count))
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
                results[ref.request].duplicatesByTable[batch.row(ref).table.rawValue] += 1
            } else {
                rows.append(ref)
            }
        }
        return rows
    }

    /// A hash of row `index`'s message key: tenant, timestamp, table and messageId (this
    /// process's `Hasher` seed).
    static func key(of index: Int, in batch: ParsedBatch, tenant: Int64) -> Int {
        let row = batch.rows[index]
        var hasher = Hasher()
        hasher.combine(tenant)
        hasher.combine(row.timestamp.microsecondsSinceUnixEpoch)
        hasher.combine(row.table.rawValue)
        batch.encoders[row.table.rawValue].bytes.withUnsafeBytes {
            hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0[row.messageIDRange]))
        }
        return hasher.finalize()
    }

    /// Whether two rows are the same message: tenant, table, timestamp and messageId.
    private static func sameMessage(_ a: RowRef, _ b: RowRef, in requests: [WriteRequest]) -> Bool {
        let (requestA, requestB) = (requests[a.request], requests[b.request])
        let (rowA, rowB) = (requestA.batch.rows[a.row], requestB.batch.rows[b.row])
        return requestA.tenantID == requestB.tenantID && rowA.table == rowB.table && rowA.timestamp == rowB.timestamp
            && requestA.batch.encoders[rowA.table.rawValue].bytes[rowA.messageIDRange]
                .elementsEqual(requestB.batch.encoders[rowB.table.rawValue].bytes[rowB.messageIDRange])
    }
}
