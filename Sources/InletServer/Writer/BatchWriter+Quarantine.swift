import InletMessages
import PostgresClient

extension BatchWriter {
    /// Writes the quarantine of the requests in `requests`: their messages refused by validation
    /// and `poisoned`, the rows the database refused, each as JSON without credentials, with its
    /// reason, SQLSTATE and arrival time.
    ///
    /// A request that replays a quarantined message (``WriteRequest/replayOf``) adds no row: its
    /// source row is deleted when the message is now stored (or was already), or keeps the new
    /// reason when it is still refused.
    func quarantine(_ batch: WriteBatch, requests: Set<Int>, poisoned: [(RowRef, PostgresError)]) throws {
        var entries: [(tenant: Int64, reject: RejectedMessage, sqlState: String?, request: Int, arrivalKeyed: Bool)] = []
        for index in requests.sorted() {
            for reject in batch.requests[index].batch.rejects {
                entries.append((batch.requests[index].tenantID, reject, nil, index, false))
            }
        }
        for (ref, error) in poisoned where requests.contains(ref.request) {
            entries.append(
                (batch.tenant(ref), Self.rejection(of: ref, in: batch, error: error), error.sqlState, ref.request,
                 batch.row(ref).timestampFromArrival))
        }
        try resolveReplays(batch, requests: requests, stillRefused: entries.map { ($0.request, $0.reject.reason, $0.sqlState) })
        entries.removeAll { batch.requests[$0.request].replayOf != nil }
        guard !entries.isEmpty else { return }
        try connection.copyIn(
            """
            COPY inlet.rejected_messages (tenant_id, message_id, reason, raw_message, sqlstate, received_at, message_type, arrival_keyed)
            FROM STDIN (FORMAT binary)
            """
        ) { copy in
            for entry in entries {
                let arrival = batch.requests[entry.request].batch.arrival
                try copy.row(fieldCount: 8) { row in
                    row.appendInt8(entry.tenant)
                    if let id = entry.reject.messageID { row.appendText(id) } else { row.appendNull() }
                    row.appendText(entry.reject.reason)
                    row.appendBytea(CredentialRedaction.redacted(entry.reject.raw))
                    if let state = entry.sqlState { row.appendText(state) } else { row.appendNull() }
                    if let arrival { row.appendTimestamptz(arrival) } else { row.appendNull() }
                    if let type = entry.reject.type { row.appendText(type.rawValue) } else { row.appendNull() }
                    row.appendBool(entry.arrivalKeyed)
                }
            }
        }
    }

    /// Deletes the quarantine rows whose replay stored their message; updates the reason of
    /// those still refused.
    private func resolveReplays(_ batch: WriteBatch, requests: Set<Int>, stillRefused: [(request: Int, reason: String, sqlState: String?)]) throws {
        let replays = requests.filter { batch.requests[$0].replayOf != nil }
        guard !replays.isEmpty else { return }
        var refusedRequests = Set<Int>()
        for refused in stillRefused where replays.contains(refused.request) {
            refusedRequests.insert(refused.request)
            try connection.query(
                "UPDATE inlet.rejected_messages SET reason = $2, sqlstate = $3, replayed_at = now() WHERE id = $1",
                batch.requests[refused.request].replayOf, refused.reason, refused.sqlState)
        }
        let stored = replays.subtracting(refusedRequests).compactMap { batch.requests[$0].replayOf }
        guard !stored.isEmpty else { return }
        try connection.query("DELETE FROM inlet.rejected_messages WHERE id = ANY($1::bigint[])", PostgresArrayLiteral(stored).text)
    }

    /// A row the database refused, as a quarantine entry: the message rebuilt from the row, and
    /// a reason naming the server's message (never its detail, which quotes the row).
    static func rejection(of ref: RowRef, in batch: WriteBatch, error: PostgresError) -> RejectedMessage {
        let request = batch.requests[ref.request].batch
        let row = request.rows[ref.row]
        return RejectedMessage(
            messageIndex: row.messageIndex, messageID: batch.messageID(ref),
            reason: "the database refused this message: \(error.summary)",
            raw: request.message(of: row), type: row.table.messageType)
    }
}
