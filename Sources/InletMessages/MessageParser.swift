import PostgresClient

/// Turns one request body into binary-COPY rows: the ingest hot path.
///
/// One pass over the body's bytes validates the JSON and finds each message's members; each
/// valid message is then written straight into its table's ``BinaryCopyEncoder``, nested objects
/// copied byte for byte unless they hold something Postgres would refuse. No Foundation JSON,
/// no dictionary per message: see `MessageFields` and `JSONScanner`.
///
/// A body that is not JSON, or not a message, an array of messages or a `{"batch": [...]}`
/// envelope, throws ``BodyError``; a bad message inside a good body becomes a
/// ``RejectedMessage`` and the others go on.
public struct MessageParser: Sendable {
    public let limits: MessageLimits

    public init(limits: MessageLimits = .init()) {
        self.limits = limits
    }

    /// Parses, validates and encodes `body` as rows of `tenantID`.
    /// - Parameters:
    ///   - tenantID: the authenticated tenant, written into every row's `tenant_id`. The caller
    ///     authenticates first (``writeKey(in:)`` finds a body's key without parsing it), so rows
    ///     are encoded once, complete, and never patched afterwards.
    ///   - impliedType: the type a Tracking API route (`/v1/track`...) implies, used for messages
    ///     without a `type` of their own.
    ///   - arrival: when the request arrived: `received_at` unless the message has `receivedAt`.
    public func parse(
        _ body: UnsafeRawBufferPointer, tenantID: Int64, impliedType: MessageType?, arrival: Timestamp
    ) throws(BodyError) -> ParsedBatch {
        guard let base = body.baseAddress, !body.isEmpty else {
            throw BodyError(.syntax(JSONSyntaxError(.unexpectedEnd, at: 0)))
        }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        // The scanner's container stack lives on this thread's stack: one per body, no heap.
        let result = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: limits.maxDepth + 2) {
            stack -> Result<ParsedBatch, BodyError> in
            guard let stackBase = stack.baseAddress else {
                return .failure(BodyError(.syntax(JSONSyntaxError(.unexpectedEnd, at: 0))))
            }
            var run = ParseRun(
                scanner: JSONScanner(bytes: bytes, count: body.count, maxDepth: limits.maxDepth, stack: stackBase),
                limits: limits, tenantID: tenantID, impliedType: impliedType, arrival: arrival)
            do throws(BodyError) {
                try run.parseBody()
            } catch {
                return .failure(error)
            }
            return .success(run.batch)
        }
        var batch = try result.get()
        // The rows may wait in the ingest queue, which counts their bytes: not the slack.
        for table in batch.encoders.indices { batch.encoders[table].shrinkToFit() }
        return batch
    }

    /// Parses `body` (convenience for tests and callers holding an array).
    public func parse(_ body: [UInt8], tenantID: Int64, impliedType: MessageType?, arrival: Timestamp) throws(BodyError)
        -> ParsedBatch
    {
        let result = body.withUnsafeBytes { buffer -> Result<ParsedBatch, BodyError> in
            do throws(BodyError) {
                return .success(try parse(buffer, tenantID: tenantID, impliedType: impliedType, arrival: arrival))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// The state of parsing one body.
struct ParseRun {
    var scanner: JSONScanner
    let limits: MessageLimits
    /// Written into every row's `tenant_id`.
    let tenantID: Int64
    let impliedType: MessageType?
    let arrival: Timestamp
    var batch = ParsedBatch()
    /// What a batch envelope gives every message.
    var envelope = Envelope()
    /// Reused buffers for values that must be decoded or repaired before they are written.
    var scratch: [UInt8] = []
    var scratch2: [UInt8] = []
    /// The last walk over a message array: its elements and their members (see ``ArrayElement``).
    var elements: [ArrayElement] = []
    var elementMembers: [ArrayElement.Member] = []

    struct Envelope {
        /// The members of the envelope's `context` / `integrations` objects, repaired, without
        /// the braces; empty when absent or `{}`.
        var contextMembers: [UInt8] = []
        var integrationsMembers: [UInt8] = []
        var sentAt: Timestamp?
    }

    init(scanner: JSONScanner, limits: MessageLimits, tenantID: Int64, impliedType: MessageType?, arrival: Timestamp) {
        self.scanner = scanner
        self.limits = limits
        self.tenantID = tenantID
        self.impliedType = impliedType
        self.arrival = arrival
        batch.arrival = arrival
    }

    var bytes: UnsafePointer<UInt8> { scanner.bytes }

    mutating func parseBody() throws(BodyError) {
        var i = 0
        // A UTF-8 byte order mark is not JSON, but some clients send one; it carries no meaning.
        if scanner.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        i = scanner.skipWhitespace(i)
        guard i < scanner.count else { throw BodyError(.syntax(JSONSyntaxError(.unexpectedEnd, at: i))) }
        let end: Int
        switch bytes[i] {
        case JSONScanner.openBracket:
            end = try parseMessageArray(i, depth: 1)
        case JSONScanner.openBrace:
            end = try parseObjectBody(i)
        default:
            // Valid JSON of the wrong shape gets the shape message; anything else the syntax one.
            do throws(JSONSyntaxError) {
                _ = try scanner.scanValue(i, depth: 1)
            } catch {
                throw BodyError(.syntax(error))
            }
            throw BodyError(.notAMessageBody)
        }
        let rest = scanner.skipWhitespace(end)
        guard rest == scanner.count else {
            throw BodyError(.syntax(JSONSyntaxError(.trailingCharacters, at: rest)))
        }
    }

    /// The envelope's own members: its `context`, `integrations` and `sentAt` apply to every
    /// message; its `writeKey` authenticates the body.
    private mutating func readEnvelope(_ fields: MessageFields) throws(BodyError) {
        if let batchValue = fields.batch, batchValue.kind != .array { throw BodyError(.batchNotAnArray) }
        envelope.contextMembers = try envelopeObjectMembers(fields.context, name: "context")
        envelope.integrationsMembers = try envelopeObjectMembers(fields.integrations, name: "integrations")
        if let sentAt = fields.sentAt { envelope.sentAt = timestamp(sentAt) }
        if let writeKey = fields.writeKey {
            guard writeKey.kind == .string else { throw BodyError(.envelopeMember(name: "writeKey", expected: "a string")) }
            batch.writeKey = JSONSanitizer.string(bytes, writeKey)
        }
    }

    private mutating func envelopeObjectMembers(_ value: ScannedValue?, name: String) throws(BodyError) -> [UInt8] {
        guard let value, !value.isNull else { return [] }
        guard value.kind == .object else { throw BodyError(.envelopeMember(name: name, expected: "an object")) }
        let members = innerMembers(of: value)
        var out: [UInt8] = []
        if value.isClean {
            out.append(contentsOf: UnsafeRawBufferPointer(start: bytes + members.lowerBound, count: members.count))
        } else {
            JSONSanitizer.appendJSON(bytes, members, to: &out)
        }
        return out
    }

    /// The bytes between an object's braces, without surrounding whitespace: empty for `{ }`.
    func innerMembers(of object: ScannedValue) -> Range<Int> {
        let inner = scanner.trimmingTrailingWhitespace((object.range.lowerBound + 1)..<(object.range.upperBound - 1))
        let start = min(scanner.skipWhitespace(inner.lowerBound), inner.upperBound)
        return start..<inner.upperBound
    }

    /// A body that is an object: one message, or an envelope whose `batch` array holds them.
    /// Returns the index after it.
    ///
    /// The envelope's `context`, `integrations` and `sentAt` apply to every message but may
    /// follow the array (analytics libraries write `batch` first), so the messages are walked as
    /// the envelope is scanned and handled once it has been: one pass over the bytes.
    private mutating func parseObjectBody(_ start: Int) throws(BodyError) -> Int {
        var fields = MessageFields()
        var stop = try scanObjectMembers(from: start + 1, afterValue: false, fields: &fields)
        while case .batchArray(let arrayStart) = stop {
            // A repeated `batch` member: the last one counts, as for any other member.
            let arrayEnd = try walkMessageArray(arrayStart, depth: 2)
            fields.batch = ScannedValue(kind: .array, range: arrayStart..<arrayEnd, flags: [])
            stop = try scanObjectMembers(from: arrayEnd, afterValue: true, fields: &fields)
        }
        guard case .end(let end) = stop else { preconditionFailure("members are scanned until the object ends") }
        if let batchValue = fields.batch {
            try readEnvelope(fields)
            guard batchValue.kind == .array else { throw BodyError(.batchNotAnArray) }
            handleWalkedElements()
        } else {
            batch.isSingleMessage = true
            batch.messageCount = 1
            handle(fields: fields, raw: start..<end, index: 0)
        }
        return end
    }

    private mutating func scanObjectMembers(from start: Int, afterValue: Bool, fields: inout MessageFields) throws(BodyError)
        -> JSONScanner.MemberScanStop
    {
        do throws(JSONSyntaxError) {
            return try scanner.scanMembers(from: start, afterValue: afterValue, fields: &fields, depth: 1, stopAtBatchArray: true)
        } catch {
            throw BodyError(.syntax(error))
        }
    }

    /// Walks the array at `start` (a `[`) whose elements are messages, and handles them; returns
    /// the index after it.
    private mutating func parseMessageArray(_ start: Int, depth: Int) throws(BodyError) -> Int {
        let end = try walkMessageArray(start, depth: depth)
        handleWalkedElements()
        return end
    }

    /// Walks the array at `start` (a `[`) whose elements are messages, recording each in
    /// `elements`; returns the index after it. An element that is not a valid message object is
    /// recorded as refused, as long as its end can be found by bracket matching; otherwise the
    /// body is not JSON.
    private mutating func walkMessageArray(_ start: Int, depth: Int) throws(BodyError) -> Int {
        if depth > limits.maxDepth {
            throw BodyError(.syntax(JSONSyntaxError(.tooDeep(limit: limits.maxDepth), at: start)))
        }
        elements.removeAll(keepingCapacity: true)
        elementMembers.removeAll(keepingCapacity: true)
        var i = scanner.skipWhitespace(start + 1)
        guard i < scanner.count else { throw BodyError(.syntax(JSONSyntaxError(.unexpectedEnd, at: i))) }
        if bytes[i] == JSONScanner.closeBracket { return i + 1 }
        while true {
            guard elements.count < limits.maxMessagesPerBody else {
                throw BodyError(.tooManyMessages(limit: limits.maxMessagesPerBody))
            }
            let elementStart = i
            var outcome: Result<(end: Int, fields: MessageFields), JSONSyntaxError>
            if bytes[i] == JSONScanner.openBrace {
                do throws(JSONSyntaxError) {
                    outcome = .success(try scanner.scanMessage(i, depth: 1))
                } catch {
                    outcome = .failure(error)
                }
            } else {
                do throws(JSONSyntaxError) {
                    let (_, end) = try scanner.scanValue(i, depth: 1)
                    outcome = .success((end, MessageFields()))
                } catch {
                    outcome = .failure(error)
                }
            }
            switch outcome {
            case .success(let scanned):
                i = scanned.end
                if bytes[elementStart] == JSONScanner.openBrace {
                    elements.append(ArrayElement(raw: elementStart..<scanned.end, fields: scanned.fields, into: &elementMembers))
                } else {
                    elements.append(ArrayElement(raw: elementStart..<scanned.end, refusal: .notAnObject))
                }
            case .failure(let error):
                // No end, or no element at all (`[1,]`): the body itself is broken.
                guard let delimiter = scanner.skipElementLeniently(elementStart), delimiter > elementStart else {
                    throw BodyError(.syntax(error))
                }
                i = delimiter
                let raw = scanner.trimmingTrailingWhitespace(elementStart..<delimiter)
                if bytes[elementStart] != JSONScanner.openBrace {
                    elements.append(ArrayElement(raw: raw, refusal: .notAnObject))
                } else {
                    elements.append(ArrayElement(raw: raw, refusal: .invalid(error)))
                }
            }
            i = scanner.skipWhitespace(i)
            guard i < scanner.count else { throw BodyError(.syntax(JSONSyntaxError(.unexpectedEnd, at: i))) }
            if bytes[i] == JSONScanner.comma {
                i = scanner.skipWhitespace(i + 1)
                guard i < scanner.count else { throw BodyError(.syntax(JSONSyntaxError(.unexpectedEnd, at: i))) }
                continue
            }
            if bytes[i] == JSONScanner.closeBracket { return i + 1 }
            throw BodyError(.syntax(JSONSyntaxError(.unexpectedCharacter, at: i)))
        }
    }

    /// Validates and encodes (or refuses) every element the last walk recorded, in order.
    private mutating func handleWalkedElements() {
        batch.messageCount += elements.count
        for index in elements.indices {
            let element = elements[index]
            let raw = element.raw
            switch element.refusal {
            case nil:
                handle(fields: element.fields(in: elementMembers), raw: raw, index: index)
            case .notAnObject:
                reject(index: index, raw: raw, messageID: nil, reason: "message must be a JSON object")
            case .invalid(let error):
                let reason =
                    if raw.count > limits.maxMessageBytes {
                        tooLargeReason
                    } else if case .tooDeep(let limit) = error.reason {
                        "message is nested deeper than \(limit) levels"
                    } else {
                        "message is not valid JSON: \(error)"
                    }
                reject(index: index, raw: raw, messageID: nil, reason: reason)
            }
        }
    }

    var tooLargeReason: String {
        let limit = limits.maxMessageBytes
        return limit % 1024 == 0 ? "message is larger than \(limit / 1024) KiB" : "message is larger than \(limit) bytes"
    }

    mutating func reject(
        index: Int, raw: Range<Int>, messageID: String?, reason: String, isUnknownType: Bool = false, type: MessageType? = nil
    ) {
        let rawBytes = Array(UnsafeBufferPointer(start: bytes + raw.lowerBound, count: min(raw.count, RejectedMessage.maxRawBytes)))
        batch.rejects.append(
            RejectedMessage(
                messageIndex: index, messageID: messageID, reason: reason, raw: rawBytes, isUnknownType: isUnknownType,
                type: type))
    }
}
