/// Encodes rows in PostgreSQL's binary COPY format (`COPY ... FROM STDIN (FORMAT binary)`).
///
/// Binary COPY sends each field as a length and raw bytes: no quoting or escaping, so no value
/// can spill into another field or row. What the server still refuses is a value that is
/// invalid for its type — a NUL or invalid UTF-8 in text, malformed JSON in jsonb — so callers
/// validate values before they reach the encoder.
///
/// The encoder holds rows only; ``CopyIn`` adds the stream header and trailer. Rows can
/// therefore be encoded anywhere (a request handler, a test) and sent later as bytes.
public struct BinaryCopyEncoder: Sendable {
    public private(set) var bytes: [UInt8]
    public private(set) var rowCount = 0

    public init(reservingCapacity capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The stream header: signature, flags, header-extension length.
    public static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    /// The stream trailer: a field count of -1.
    public static let trailer: [UInt8] = [0xFF, 0xFF]

    /// Starts a row of `fieldCount` fields; exactly that many `append…` calls must follow.
    public mutating func beginRow(fieldCount: Int) {
        appendBigEndian(Int16(truncatingIfNeeded: fieldCount))
        rowCount += 1
    }

    public mutating func appendNull() {
        appendBigEndian(Int32(-1))
    }

    /// `text`/`varchar`: the UTF-8 bytes as they are. The caller guarantees valid UTF-8
    /// without NUL (a Swift `String` is always valid UTF-8; NUL must be removed).
    public mutating func appendText(_ value: String) {
        var value = value
        value.withUTF8 { appendField(UnsafeRawBufferPointer($0)) }
    }

    /// `text` from bytes the caller has already validated as UTF-8 without NUL.
    public mutating func appendText(utf8 value: UnsafeRawBufferPointer) {
        appendField(value)
    }

    public mutating func appendInt8(_ value: Int64) {
        appendBigEndian(Int32(8))
        appendBigEndian(value)
    }

    public mutating func appendInt4(_ value: Int32) {
        appendBigEndian(Int32(4))
        appendBigEndian(value)
    }

    public mutating func appendBool(_ value: Bool) {
        appendBigEndian(Int32(1))
        bytes.append(value ? 1 : 0)
    }

    /// `timestamptz`: microseconds since 2000-01-01 00:00:00 UTC.
    public mutating func appendTimestamptz(_ value: Timestamp) {
        appendBigEndian(Int32(8))
        appendBigEndian(value.microsecondsSincePostgresEpoch)
    }

    /// `jsonb`: a version byte (1) and the JSON text. The server parses the text, so it must be
    /// valid JSON that jsonb can hold (no `\u0000`, no invalid UTF-8).
    public mutating func appendJSONB(_ json: String) {
        var json = json
        json.withUTF8 { appendJSONB(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// `jsonb` from JSON bytes the caller has already validated.
    public mutating func appendJSONB(utf8 json: UnsafeRawBufferPointer) {
        appendBigEndian(Int32(truncatingIfNeeded: json.count + 1))
        bytes.append(1)
        bytes.append(contentsOf: json)
    }

    /// `bytea`: the bytes as they are.
    public mutating func appendBytea(_ value: some Collection<UInt8>) {
        appendBigEndian(Int32(truncatingIfNeeded: value.count))
        bytes.append(contentsOf: value)
    }

    /// Appends one row encoded elsewhere (a slice of another encoder's bytes).
    public mutating func append(encodedRow: ArraySlice<UInt8>) {
        bytes.append(contentsOf: encodedRow)
        rowCount += 1
    }

    /// Makes room for `capacity` bytes in all.
    public mutating func reserveCapacity(_ capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends rows encoded by another encoder.
    public mutating func append(_ other: BinaryCopyEncoder) {
        bytes.append(contentsOf: other.bytes)
        rowCount += other.rowCount
    }

    /// The bytes of field `index` (0-based) of the row that starts at `rowStart`, or nil when
    /// the field is NULL: for reading a value back out of an encoded row (a writer needs the
    /// traits of identifies for the users table) without keeping a second copy of it.
    public func field(_ index: Int, ofRowAt rowStart: Int) -> Range<Int>? {
        var offset = rowStart + 2
        var remaining = index
        while true {
            let length = Int(Int32(bitPattern: bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }))
            offset += 4
            if remaining == 0 { return length < 0 ? nil : offset..<offset + length }
            offset += max(length, 0)
            remaining -= 1
        }
    }

    // MARK: Fields written in pieces
    //
    // A value assembled from several parts (a jsonb object merged from two sources, a string
    // decoded as it is copied) is written straight into the row: its length is reserved first
    // and patched when the value is complete, so no intermediate buffer is needed.

    /// Starts a field whose length is not known yet; returns the offset to pass to
    /// ``endField(startedAt:)`` once the value's bytes are appended.
    public mutating func beginField() -> Int {
        let offset = bytes.count
        appendBigEndian(Int32(0))
        return offset
    }

    /// Appends bytes to the field started by ``beginField()``.
    public mutating func appendToField(_ value: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: value)
    }

    /// Appends bytes to the field started by ``beginField()``.
    public mutating func appendToField(_ value: some Sequence<UInt8>) {
        bytes.append(contentsOf: value)
    }

    /// Appends one byte to the field started by ``beginField()``.
    public mutating func appendToField(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// Completes the field started at `offset` by writing its length.
    public mutating func endField(startedAt offset: Int) {
        let length = UInt32(truncatingIfNeeded: bytes.count - offset - 4)
        bytes[offset] = UInt8(truncatingIfNeeded: length >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: length)
    }

    /// Gives back the storage grown past the rows (an array doubles as it grows, so up to half
    /// of it can be empty): for rows that will wait in a queue whose bound counts bytes.
    public mutating func shrinkToFit() {
        guard bytes.capacity > bytes.count + bytes.count / 8 + 4096 else { return }
        let rows = bytes
        bytes = [UInt8](unsafeUninitializedCapacity: rows.count) { buffer, initialized in
            initialized = rows.withUnsafeBufferPointer { buffer.initialize(fromContentsOf: $0) }
        }
    }

    /// Empties the encoder, keeping its storage for the next rows.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        rowCount = 0
    }

    private mutating func appendField(_ value: UnsafeRawBufferPointer) {
        appendBigEndian(Int32(truncatingIfNeeded: value.count))
        bytes.append(contentsOf: value)
    }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}
