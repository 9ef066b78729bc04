import CLibPQ

/// The sending side of one `COPY ... FROM STDIN (FORMAT binary)`, handed to the closure of
/// ``Connection/copyIn(_:rows:)``.
///
/// Rows accumulate in ``encoder`` and go to the server whenever it holds more than
/// `flushThreshold` bytes, so memory stays bounded however many rows are sent.
public struct CopyIn: ~Copyable {
    public var encoder: BinaryCopyEncoder
    let connection: Connection
    let flushThreshold: Int

    init(connection: Connection, flushThreshold: Int) {
        self.connection = connection
        self.flushThreshold = flushThreshold
        // No room reserved yet: a writer's COPY mostly sends rows encoded elsewhere, and
        // reserving flushThreshold bytes up front cost an mmap and munmap (and their TLB
        // shootdowns) for every COPY of a transaction, six per transaction (perf, issue 14).
        self.encoder = BinaryCopyEncoder()
    }

    /// Encodes one row of `fieldCount` fields with `body`, then sends if the buffer is full.
    public mutating func row(fieldCount: Int, _ body: (inout BinaryCopyEncoder) throws -> Void) throws {
        reserveOnFirstUse()
        encoder.beginRow(fieldCount: fieldCount)
        try body(&encoder)
        if encoder.bytes.count >= flushThreshold { try flush() }
    }

    /// Sends rows that were encoded elsewhere.
    public mutating func send(encodedRows: BinaryCopyEncoder) throws {
        try flush()
        try connection.putCopyData(encodedRows.bytes)
    }

    /// Sends one row encoded elsewhere (a slice of another encoder's buffer): gathered with the
    /// next ones, so that rows picked one by one do not cost a copy and a send each.
    public mutating func send(row bytes: ArraySlice<UInt8>) throws {
        encoder.append(encodedRow: bytes)
        if encoder.bytes.count >= flushThreshold { try flush() }
    }

    private mutating func reserveOnFirstUse() {
        if encoder.bytes.capacity == 0 { encoder.reserveCapacity(flushThreshold + 64 * 1024) }
    }

    /// Sends what the encoder holds.
    public mutating func flush() throws {
        guard !encoder.bytes.isEmpty else { return }
        try connection.putCopyData(encoder.bytes)
        encoder.removeAll()
    }
}

extension Connection {
    /// Runs `sql` (a `COPY table (columns) FROM STDIN (FORMAT binary)`) and streams the rows that
    /// `rows` writes. Returns the number of rows the server stored.
    ///
    /// If `rows` throws, the COPY is aborted (CopyFail), nothing from it is stored, and the error
    /// is rethrown; the connection stays usable.
    @discardableResult
    public func copyIn(
        _ sql: String, flushThreshold: Int = 256 * 1024, rows: (inout CopyIn) throws -> Void
    ) throws -> Int {
        try startCopy(sql)
        var copy = CopyIn(connection: self, flushThreshold: flushThreshold)
        do {
            try putCopyData(BinaryCopyEncoder.header)
            try rows(&copy)
            try copy.flush()
            try putCopyData(BinaryCopyEncoder.trailer)
        } catch {
            PQputCopyEnd(handle, "aborted by the client: \(error)")
            _ = try? finishCopy()
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw connectionError() }
        return try finishCopy()
    }

    private func startCopy(_ sql: String) throws {
        guard let result = PQexec(handle, sql) else { throw connectionError() }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COPY_IN else {
            if PQresultStatus(result) == PGRES_FATAL_ERROR {
                throw Self.error(from: result, connection: handle, kind: .copy)
            }
            throw PostgresError(kind: .copy, message: "statement did not start a COPY FROM STDIN: \(sql)")
        }
    }

    func putCopyData(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32(buffer.count)) }
        }
        guard sent == 1 else { throw PostgresError(kind: .copy, message: Self.trimmed(PQerrorMessage(handle))) }
    }

    /// Reads results until libpq has none left (as the protocol requires) and reports the first
    /// error, or the number of rows copied.
    private func finishCopy() throws -> Int {
        var firstError: PostgresError?
        var rows = 0
        while let result = PQgetResult(handle) {
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK:
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
            default:
                if firstError == nil { firstError = Self.error(from: result, connection: handle, kind: .copy) }
            }
        }
        if let firstError { throw firstError }
        return rows
    }
}
