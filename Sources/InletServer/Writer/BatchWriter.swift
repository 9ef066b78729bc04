import InletMessages
import Logging
import PostgresClient

/// Writes batches of requests through one database connection, in one transaction each.
///
/// request rows → repeats within the batch set aside → months' partitions made sure of →
/// one transaction: COPY straight into the partitioned tables (rows this process took in lately
/// looked up first; every row through staging tables when one turns out stored already),
/// profiles, traffic, quarantine, deletes → results per request.
///
/// A row the database refuses for itself (``DatabaseFault/row``) is found by bisection and
/// quarantined, and the rest commits. Any other database error is thrown: the batch's requests
/// are then answered 503 and retried by their senders (rows that did commit are deduplicated).
///
/// Blocking: runs on its writer's own thread. The steps live in extensions, one per concern:
/// `+Transaction` (COPY, staging), `+Profiles`, `+ArrivalKeys`, `+Quarantine`, `+SideTables`.
final class BatchWriter {
    let connection: Connection
    let logger: Logger
    var partitions = PartitionMonths()
    /// Told how long each committed transaction took, BEGIN to COMMIT (a histogram).
    var committed: (Duration) -> Void = { _ in }
    /// Told when each transaction begins: the watchdog times transactions, not whole batches
    /// (a bisection runs many, each bounded by the transaction timeout).
    var transactionBegins: () -> Void = {}
    /// Told when a transaction met a stored row it did not expect and is redone all staged.
    var transactionRestaged: () -> Void = {}
    /// Rows of the current bisection whose "no partition" was checked once already.
    private var partitionRechecked = Set<RowRef>()
    /// Rows deleted from the staging tables since they were last truncated.
    var stagedRowsSinceTruncate = 0
    static let stagedRowsBeforeTruncate = 5_000

    init(url: String, logger: Logger, applicationName: String = "inlet-writer") throws {
        connection = try Connection(url: url, applicationName: applicationName)
        self.logger = logger
        // Staging tables live as long as the connection. Not ON COMMIT DELETE ROWS: truncating a
        // table at every commit cost about 25 ms a transaction (measured by `make bench`); rows are
        // deleted after use instead, and the tables truncated now and then (see `+Transaction`).
        for table in EventTable.allCases {
            try connection.execute("CREATE TEMP TABLE stage_\(table.name) (LIKE events.\(table.name) INCLUDING DEFAULTS)")
        }
    }

    /// Writes `requests` in one transaction (more when a row is refused); the outcome of each
    /// request, in the order given.
    func write(_ requests: [WriteRequest]) throws -> [RequestResult] {
        let batch = WriteBatch(requests)
        // Months first: a request refused for its month must not leave another request's copy
        // of the same message counted as a duplicate of a row that is never stored.
        var refused = try unavailableMonths(batch.allRows, in: batch)
        var (rows, results) = plan(batch, refused: refused)
        let likelyStored = Set(batch.requests.indices.flatMap { request in
            batch.requests[request].likelyStored.map { RowRef(request: request, row: $0) }
        })

        do {
            try withRetries {
                try self.commit(
                    rows, of: batch, results: &results, sideTablesOf: writtenRequests(batch, refused), poisoned: [],
                    likelyStored: likelyStored)
            }
        } catch let error as PostgresError where DatabaseFault(error) == .row {
            if error.sqlState == SQLState.noPartitionForRow {
                // Perhaps a partition was dropped since it was cached: make sure, then go on.
                partitions.forget()
                refused.formUnion(try unavailableMonths(rows, in: batch))
                (rows, results) = plan(batch, refused: refused)
            }
            let written = writtenRequests(batch, refused)
            // One or more messages the database refuses: find them by bisection, commit the rest,
            // then the quarantine (validation rejects and the refused messages) on its own.
            var poisoned: [(RowRef, PostgresError)] = []
            partitionRechecked = []
            try isolate(rows[...], of: batch, results: &results, poisoned: &poisoned, likelyStored: likelyStored)
            try withRetries {
                try self.commit([], of: batch, results: &results, sideTablesOf: written, poisoned: poisoned, likelyStored: [])
            }
            for (ref, error) in poisoned {
                results[ref.request].rejected.append(Self.rejection(of: ref, in: batch, error: error))
            }
        }
        return results
    }

    /// Creates the months `rows` need; returns the requests with a row in a month that cannot be
    /// created now: they are refused (503), with all their rows.
    private func unavailableMonths(_ rows: [RowRef], in batch: WriteBatch) throws -> Set<Int> {
        let failed = try partitions.ensure(rows, in: batch, on: connection)
        guard !failed.isEmpty else { return [] }
        var refused = Set<Int>()
        for ref in rows where failed.contains(PartitionMonths.month(of: batch.row(ref).timestamp)) {
            refused.insert(ref.request)
        }
        logger.warning(
            "a month's partitions could not be created in time; answering its requests 503",
            metadata: ["months": "\(failed.sorted().map { "\($0 / 12)-\($0 % 12 + 1)" })", "requests": "\(refused.count)"])
        return refused
    }

    /// The rows to write and the results to fill, the `refused` requests left out: each request
    /// starts with its validation rejects, and repeats within the batch count as duplicates.
    private func plan(_ batch: WriteBatch, refused: Set<Int>) -> ([RowRef], [RequestResult]) {
        var results = batch.requests.indices.map { index in
            refused.contains(index)
                ? RequestResult(refusal: .databaseFailing) : RequestResult(rejected: batch.requests[index].batch.rejects)
        }
        let rows = RepeatedMessages.unique(in: batch, skipping: refused, results: &results)
        return (rows, results)
    }

    /// The requests whose quarantine and deletes this batch writes: all but the refused ones.
    private func writtenRequests(_ batch: WriteBatch, _ refused: Set<Int>) -> Set<Int> {
        Set(batch.requests.indices).subtracting(refused)
    }

    /// Retries a transaction the server aborted for a deadlock or serialisation conflict.
    func withRetries(_ body: () throws -> Void) throws {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error as PostgresError where DatabaseFault(error) == .conflict && attempt < 3 {
                attempt += 1
            }
        }
    }

    /// Halves `rows` until each refused row stands alone; commits every half that the server
    /// takes. An error that is not a row's own ends the bisection: it is thrown.
    private func isolate(
        _ rows: ArraySlice<RowRef>, of batch: WriteBatch, results: inout [RequestResult],
        poisoned: inout [(RowRef, PostgresError)], likelyStored: Set<RowRef>
    ) throws {
        guard !rows.isEmpty else { return }
        do {
            try withRetries {
                try self.commit(
                    Array(rows), of: batch, results: &results, sideTablesOf: [], poisoned: [], likelyStored: likelyStored)
            }
        } catch let error as PostgresError where DatabaseFault(error) == .row {
            if rows.count == 1, let only = rows.first {
                if error.sqlState == SQLState.noPartitionForRow && !partitionRechecked.contains(only) {
                    // "No partition" shares its SQLSTATE with CHECK violations: a month dropped
                    // meanwhile is the database's state, not the row's. Create it, try again.
                    partitionRechecked.insert(only)
                    partitions.forget()
                    guard try partitions.ensure([only], in: batch, on: connection).isEmpty else { throw error }
                    return try isolate(rows, of: batch, results: &results, poisoned: &poisoned, likelyStored: likelyStored)
                }
                poisoned.append((only, error))
                return
            }
            let middle = rows.startIndex + rows.count / 2
            try isolate(rows[..<middle], of: batch, results: &results, poisoned: &poisoned, likelyStored: likelyStored)
            try isolate(rows[middle...], of: batch, results: &results, poisoned: &poisoned, likelyStored: likelyStored)
        }
    }
}
