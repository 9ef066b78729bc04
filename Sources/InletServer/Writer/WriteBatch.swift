import InletMessages
import PostgresClient

/// One request's share of a writer transaction: who sent it and what its body became.
struct WriteRequest: Sendable {
    let tenantID: Int64
    let batch: ParsedBatch
    /// Set when the request re-ingests one quarantined message (`inlet quarantine replay`): the
    /// quarantine row it came from, which the outcome then deletes (stored) or updates (still
    /// refused) instead of adding a new row.
    var replayOf: Int64? = nil
    /// Rows (indices into `batch.rows`) whose message this process took in lately
    /// (``RecentMessages``): likely stored already, so looked up before the COPY.
    var likelyStored: [Int] = []
}

/// One row of one request in a transaction.
struct RowRef: Hashable {
    let request: Int
    let row: Int
}

/// The requests of one transaction, and each row's parts within them.
struct WriteBatch {
    let requests: [WriteRequest]
    let totalRows: Int

    init(_ requests: [WriteRequest]) {
        self.requests = requests
        totalRows = requests.reduce(0) { $0 + $1.batch.rows.count }
    }

    func row(_ ref: RowRef) -> EncodedRow { requests[ref.request].batch.rows[ref.row] }
    func tenant(_ ref: RowRef) -> Int64 { requests[ref.request].tenantID }

    /// The encoder holding the row's bytes.
    func encoder(_ ref: RowRef) -> BinaryCopyEncoder {
        requests[ref.request].batch.encoders[row(ref).table.rawValue]
    }

    func messageID(_ ref: RowRef) -> String {
        let row = row(ref)
        return String(decoding: requests[ref.request].batch.encoders[row.table.rawValue].bytes[row.messageIDRange], as: UTF8.self)
    }

    /// Every row, in request order.
    var allRows: [RowRef] {
        requests.indices.flatMap { request in requests[request].batch.rows.indices.map { RowRef(request: request, row: $0) } }
    }
}

/// The outcome of one request of a transaction.
struct RequestResult: Equatable {
    /// Rows stored now and rows found already stored, per table (`EventTable.rawValue`).
    var acceptedByTable = [Int](repeating: 0, count: EventTable.allCases.count)
    var duplicatesByTable = [Int](repeating: 0, count: EventTable.allCases.count)
    var rejected: [RejectedMessage] = []
    /// Set when the request was not written at all (a month's partition could not be created
    /// now): it is answered with this, and Segment retries it.
    var refusal: IngestOutcome?

    var accepted: Int { acceptedByTable.reduce(0, +) }
    var duplicates: Int { duplicatesByTable.reduce(0, +) }
}
