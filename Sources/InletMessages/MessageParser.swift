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

    /// Parses, validates and encodes `body`.
    /// - Parameters:
    ///   - impliedType: the type a Tracking API route (`/v1/track`...) implies, used for messages
    ///     without a `type` of their own.
    ///   - arrival: when the request arrived: `received_at` unless the message has `receivedAt`.
    public func parse(_ body: UnsafeRawBufferPointer, impliedType: MessageType?, arrival: Timestamp) throws(BodyError)
        -> ParsedBatch
    {
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
                limits: limits, impliedType: impliedType, arrival: arrival)
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
    public func parse(_ body: [UInt8], impliedType: MessageType?, arrival: Timestamp) throws(BodyError) -> ParsedBatch {
        let result = body.withUnsafeBytes { buffer -> Result<ParsedBatch, BodyError> in
            do throws(BodyError) {
                return .success(try parse(buffer, impliedType: impliedType, arrival: arrival))
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
    let impliedType: MessageType?
    let arrival: Timestamp
    var batch = ParsedBatch()
    /// What a batch envelope gives every message.
    var envelope = Envelope()
    /// Reused buffers for values that must be decoded or repaired before they are written.
    var scratch: [UInt8] = []
    var scratch2: [UInt8] = []

    struct Envelope {
        /// The members of the envelope's `context` / `integrations` objects, repaired, without
        /// the braces; empty when absent or `{}`.
        var contextMembers: [UInt8] = []
        var integrationsMembers: [UInt8] = []
        var sentAt: Timestamp?
    }

    init(scanner: JSONScanner, limits: MessageLimits, impliedType: MessageType?, arrival: Timestamp) {
        self.scanner = scanner
        self.limits = limits
        self.impliedType = impliedType
        self.arrival = arrival
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
            let scanned: (end: Int, fields: MessageFields)
            do throws(JSONSyntaxError) {
                scanned = try scanner.scanMessage(i, depth: 1, batchAllowed: true)
            } catch {
                throw BodyError(.syntax(error))
            }
            end = scanned.end
            if let batchValue = scanned.fields.batch {
                try readEnvelope(scanned.fields)
                guard batchValue.kind == .array else { throw BodyError(.batchNotAnArray) }
                let batchEnd = try parseMessageArray(batchValue.range.lowerBound, depth: 2)
                // The envelope scan matched brackets only; the strict walk must agree with it.
                guard batchEnd == batchValue.range.upperBound else {
                    throw BodyError(.syntax(JSONSyntaxError(.unexpectedCharacter, at: min(batchEnd, batchValue.range.upperBound))))
                }
            } else {
                batch.isSingleMessage = true
                batch.messageCount = 1
                handle(fields: scanned.fields, raw: i..<end, index: 0)
            }
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

    /// Walks the array at `start` (a `[`) whose elements are messages; returns the index after it.
    /// An element that is not a valid message object is refused alone, as long as its end can be
    /// found by bracket matching; otherwise the body is not JSON.
    private mutating func parseMessageArray(_ start: Int, depth: Int) throws(BodyError) -> Int {
        if depth > limits.maxDepth {
            throw BodyError(.syntax(JSONSyntaxError(.tooDeep(limit: limits.maxDepth), at: start)))
        }
        var i = scanner.skipWhitespace(start + 1)
        guard i < scanner.count else { throw BodyError(.syntax(JSONSyntaxError(.unexpectedEnd, at: i))) }
        if bytes[i] == JSONScanner.closeBracket { return i + 1 }
        var index = 0
        while true {
            guard index < limits.maxMessagesPerBody else { throw BodyError(.tooManyMessages(limit: limits.maxMessagesPerBody)) }
            batch.messageCount += 1
            let elementStart = i
            var outcome: Result<(end: Int, fields: MessageFields), JSONSyntaxError>
            if bytes[i] == JSONScanner.openBrace {
                do throws(JSONSyntaxError) {
                    outcome = .success(try scanner.scanMessage(i, depth: 1, batchAllowed: false))
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
                let raw = elementStart..<scanned.end
                if bytes[elementStart] == JSONScanner.openBrace {
                    handle(fields: scanned.fields, raw: raw, index: index)
                } else {
                    reject(index: index, raw: raw, messageID: nil, reason: "message must be a JSON object")
                }
            case .failure(let error):
                // No end, or no element at all (`[1,]`): the body itself is broken.
                guard let delimiter = scanner.skipElementLeniently(elementStart), delimiter > elementStart else {
                    throw BodyError(.syntax(error))
                }
                let raw = scanner.trimmingTrailingWhitespace(elementStart..<delimiter)
                i = delimiter
                let reason =
                    if bytes[elementStart] != JSONScanner.openBrace {
                        "message must be a JSON object"
                    } else if raw.count > limits.maxMessageBytes {
                        tooLargeReason
                    } else if case .tooDeep(let limit) = error.reason {
                        "message is nested deeper than \(limit) levels"
                    } else {
                        "message is not valid JSON: \(error)"
                    }
                reject(index: index, raw: raw, messageID: nil, reason: reason)
            }
            index += 1
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
