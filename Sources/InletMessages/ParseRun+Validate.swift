import PostgresClient

/// A message that passed validation, ready to encode: the values chosen for its columns.
struct ValidMessage {
    var type: MessageType
    var table: EventTable
    /// nil: none was sent, one is generated from the message's bytes.
    var messageID: ScannedValue?
    var userID: ScannedValue?
    var anonymousID: ScannedValue?
    var times: MessageTimes
    var fields: MessageFields
}

extension ParseRun {
    /// The longest `messageId` accepted, in bytes: it is part of the primary key, and a btree
    /// entry must fit in a third of a page.
    static let maxMessageIDBytes = 255

    /// Validates one scanned message and encodes it, records it as a delete, or refuses it.
    mutating func handle(fields: MessageFields, raw: Range<Int>, index: Int) {
        if batch.writeKey == nil, let writeKey = fields.writeKey, writeKey.kind == .string {
            batch.writeKey = JSONSanitizer.string(bytes, writeKey)
        }
        switch validate(fields, raw: raw) {
        case .failure(let refusal):
            let knownType = fields.type.flatMap { $0.kind == .string ? messageType($0) : nil } ?? impliedType
            reject(
                index: index, raw: raw, messageID: usableMessageID(fields), reason: refusal.reason,
                isUnknownType: refusal.isUnknownType, type: refusal.isUnknownType ? nil : knownType)
        case .success(let message):
            if message.type == .delete {
                let messageID = message.messageID.map { JSONSanitizer.string(bytes, $0) } ?? MessageID.generated(bytes, raw)
                let userID = message.userID.map { JSONSanitizer.string(bytes, $0) } ?? ""
                batch.deletes.append(
                    DeleteRequest(messageIndex: index, messageID: messageID, userID: userID, receivedAt: message.times.receivedAt))
            } else {
                encode(message, raw: raw, index: index)
            }
        }
    }

    struct Refusal: Error {
        var reason: String
        var isUnknownType = false
    }

    private mutating func validate(_ fields: MessageFields, raw: Range<Int>) -> Result<ValidMessage, Refusal> {
        if raw.count > limits.maxMessageBytes { return .failure(Refusal(reason: tooLargeReason)) }

        // type: the message's own, else the route's.
        let type: MessageType
        if let value = fields.type, !value.isNull {
            guard value.kind == .string else { return .failure(Refusal(reason: #""type" must be a string"#)) }
            if value.isClean, let known = messageType(value) {
                type = known
            } else {
                let name = JSONSanitizer.string(bytes, value)
                guard let known = MessageType(rawValue: name) else {
                    return .failure(Refusal(reason: "unknown message type \(quoted(name))", isUnknownType: true))
                }
                type = known
            }
        } else if let impliedType {
            type = impliedType
        } else {
            return .failure(Refusal(reason: #"message has no "type""#))
        }

        // messageId: a string of at most 255 bytes; missing or empty means generated.
        var messageID: ScannedValue?
        if let value = fields.messageId, !value.isNull {
            guard value.kind == .string else { return .failure(Refusal(reason: #""messageId" must be a string"#)) }
            let length = textLength(value)
            if length > Self.maxMessageIDBytes {
                return .failure(Refusal(reason: "\"messageId\" is longer than \(Self.maxMessageIDBytes) bytes"))
            }
            if length > 0 { messageID = value }
        }

        let userID: ScannedValue?
        let anonymousID: ScannedValue?
        switch (identifier(fields.userId, "userId"), identifier(fields.anonymousId, "anonymousId")) {
        case (.failure(let refusal), _), (_, .failure(let refusal)): return .failure(refusal)
        case (.success(let user), .success(let anonymous)):
            userID = user
            anonymousID = anonymous
        }
        if type == .delete {
            guard userID != nil else { return .failure(Refusal(reason: #"delete needs "userId""#)) }
        } else if userID == nil && anonymousID == nil {
            return .failure(Refusal(reason: #"message needs "userId" or "anonymousId""#))
        }

        switch type {
        case .track:
            guard let event = fields.event, !event.isNull else { return .failure(Refusal(reason: #"track needs "event""#)) }
            guard event.kind == .string else { return .failure(Refusal(reason: #""event" must be a string"#)) }
            guard textLength(event) > 0 else { return .failure(Refusal(reason: #"track needs a non-empty "event""#)) }
        case .group:
            switch identifier(fields.groupId, "groupId") {
            case .failure(let refusal): return .failure(refusal)
            case .success(nil): return .failure(Refusal(reason: #"group needs "groupId""#))
            case .success: break
            }
        case .alias:
            switch identifier(fields.previousId, "previousId") {
            case .failure(let refusal): return .failure(refusal)
            case .success(nil): return .failure(Refusal(reason: #"alias needs "previousId""#))
            case .success: break
            }
            guard userID != nil else { return .failure(Refusal(reason: #"alias needs "userId""#)) }
        case .identify, .page, .screen, .delete:
            break
        }

        // Shapes of the members this type stores; members it does not store are not judged.
        var refusal = mustBeObject(fields.context, "context") ?? mustBeObject(fields.integrations, "integrations")
        switch type {
        case .track: refusal = refusal ?? mustBeObject(fields.properties, "properties")
        case .page:
            refusal = refusal ?? mustBeObject(fields.properties, "properties") ?? mustBeString(fields.name, "name")
                ?? mustBeString(fields.category, "category")
        case .screen: refusal = refusal ?? mustBeObject(fields.properties, "properties") ?? mustBeString(fields.name, "name")
        case .identify, .group: refusal = refusal ?? mustBeObject(fields.traits, "traits")
        case .alias, .delete: break
        }
        if let refusal { return .failure(refusal) }

        let times = MessageTimes.resolve(fields, envelopeSentAt: envelope.sentAt, arrival: arrival) { timestamp($0) }
        return .success(
            ValidMessage(
                type: type, table: type.table ?? .tracks, messageID: messageID, userID: userID, anonymousID: anonymousID,
                times: times, fields: fields))
    }

    /// The type a clean `type` string names, compared as bytes: no String per message.
    private func messageType(_ value: ScannedValue) -> MessageType? {
        let p = bytes + value.range.lowerBound
        let count = value.range.count
        for type in MessageType.allCases {
            let name = type.rawValue.utf8
            if name.count == count, name.elementsEqual(UnsafeBufferPointer(start: p, count: count)) { return type }
        }
        return nil
    }

    /// A member that must be a JSON object when present (null counts as absent).
    private func mustBeObject(_ value: ScannedValue?, _ name: String) -> Refusal? {
        guard let value, !value.isNull, value.kind != .object else { return nil }
        return Refusal(reason: "\"\(name)\" must be an object")
    }

    /// A member that must be a string when present (null counts as absent).
    private func mustBeString(_ value: ScannedValue?, _ name: String) -> Refusal? {
        guard let value, !value.isNull, value.kind != .string else { return nil }
        return Refusal(reason: "\"\(name)\" must be a string")
    }

    /// An id member (`userId`, `groupId`...): a string or a number (many SDKs send numeric ids;
    /// its text is stored as written). nil when absent, null or empty.
    private mutating func identifier(_ value: ScannedValue?, _ name: String) -> Result<ScannedValue?, Refusal> {
        guard let value, !value.isNull else { return .success(nil) }
        switch value.kind {
        case .number: return .success(value)
        case .string: return .success(textLength(value) > 0 ? value : nil)
        default: return .failure(Refusal(reason: "\"\(name)\" must be a string"))
        }
    }

    /// The length in bytes of a string value as it will be stored.
    mutating func textLength(_ value: ScannedValue) -> Int {
        if value.kind != .string || value.isClean { return value.range.count }
        scratch.removeAll(keepingCapacity: true)
        JSONSanitizer.appendText(bytes, value.range, to: &scratch)
        return scratch.count
    }

    /// The message's own `messageId` when it is one Inlet could have stored, for the reject's report.
    private mutating func usableMessageID(_ fields: MessageFields) -> String? {
        guard let value = fields.messageId, value.kind == .string else { return nil }
        let length = textLength(value)
        guard length > 0, length <= Self.maxMessageIDBytes else { return nil }
        return JSONSanitizer.string(bytes, value)
    }

    /// A timestamp member's instant, or nil when it is not a string in a format ``ISO8601`` reads.
    func timestamp(_ value: ScannedValue) -> Timestamp? {
        guard value.kind == .string else { return nil }
        if value.isClean { return ISO8601.parse(bytes, value.range) }
        var decoded: [UInt8] = []
        JSONSanitizer.appendText(bytes, value.range, to: &decoded)
        return decoded.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.flatMap { ISO8601.parse($0, 0..<buffer.count) }
        }
    }

    private func quoted(_ text: String) -> String {
        let shown = text.count > 64 ? String(text.prefix(64)) + "…" : text
        return "\"\(shown)\""
    }
}
