/// The top-level members of one message that Inlet reads, as found in the body: where each
/// value is and what scanning learnt about it. A fixed struct rather than a dictionary, so a
/// message costs no allocation; a repeated key overwrites, so the last one wins as in jsonb.
/// Members Inlet does not store (`version`, `channel`, `_metadata`...) are validated and skipped.
struct MessageFields {
    var type: ScannedValue?
    var messageId: ScannedValue?
    var userId: ScannedValue?
    var anonymousId: ScannedValue?
    var groupId: ScannedValue?
    var previousId: ScannedValue?
    var event: ScannedValue?
    var name: ScannedValue?
    var category: ScannedValue?
    var properties: ScannedValue?
    var traits: ScannedValue?
    var context: ScannedValue?
    var integrations: ScannedValue?
    var timestamp: ScannedValue?
    var originalTimestamp: ScannedValue?
    var sentAt: ScannedValue?
    var receivedAt: ScannedValue?
    var writeKey: ScannedValue?
    /// Only for the body's top-level object: its `batch` member, which makes it an envelope.
    var batch: ScannedValue?

    enum Key: CaseIterable {
        case type, messageId, userId, anonymousId, groupId, previousId, event, name, category, properties, traits
        case context, integrations, timestamp, originalTimestamp, sentAt, receivedAt, writeKey, batch

        /// The key whose UTF-8 is `count` bytes at `p`, if Inlet reads it. Dispatches on the
        /// length first, so most keys are settled by one comparison.
        static func match(_ p: UnsafePointer<UInt8>, _ count: Int) -> Key? {
            @inline(__always) func equals(_ name: StaticString) -> Bool {
                let expected = name.utf8Start
                for k in 0..<count where p[k] != expected[k] { return false }
                return true
            }
            switch count {
            case 4: return equals("type") ? .type : equals("name") ? .name : nil
            case 5: return equals("event") ? .event : equals("batch") ? .batch : nil
            case 6: return equals("userId") ? .userId : equals("traits") ? .traits : equals("sentAt") ? .sentAt : nil
            case 7: return equals("context") ? .context : equals("groupId") ? .groupId : nil
            case 8: return equals("category") ? .category : equals("writeKey") ? .writeKey : nil
            case 9: return equals("messageId") ? .messageId : equals("timestamp") ? .timestamp : nil
            case 10:
                return equals("properties")
                    ? .properties : equals("receivedAt") ? .receivedAt : equals("previousId") ? .previousId : nil
            case 11: return equals("anonymousId") ? .anonymousId : nil
            case 12: return equals("integrations") ? .integrations : nil
            case 17: return equals("originalTimestamp") ? .originalTimestamp : nil
            default: return nil
            }
        }
    }

    subscript(key: Key) -> ScannedValue? {
        get {
            switch key {
            case .type: type
            case .messageId: messageId
            case .userId: userId
            case .anonymousId: anonymousId
            case .groupId: groupId
            case .previousId: previousId
            case .event: event
            case .name: name
            case .category: category
            case .properties: properties
            case .traits: traits
            case .context: context
            case .integrations: integrations
            case .timestamp: timestamp
            case .originalTimestamp: originalTimestamp
            case .sentAt: sentAt
            case .receivedAt: receivedAt
            case .writeKey: writeKey
            case .batch: batch
            }
        }
        set {
            switch key {
            case .type: type = newValue
            case .messageId: messageId = newValue
            case .userId: userId = newValue
            case .anonymousId: anonymousId = newValue
            case .groupId: groupId = newValue
            case .previousId: previousId = newValue
            case .event: event = newValue
            case .name: name = newValue
            case .category: category = newValue
            case .properties: properties = newValue
            case .traits: traits = newValue
            case .context: context = newValue
            case .integrations: integrations = newValue
            case .timestamp: timestamp = newValue
            case .originalTimestamp: originalTimestamp = newValue
            case .sentAt: sentAt = newValue
            case .receivedAt: receivedAt = newValue
            case .writeKey: writeKey = newValue
            case .batch: batch = newValue
            }
        }
    }
}

extension JSONScanner {
    /// Where ``scanMembers(from:afterValue:fields:depth:stopAtBatchArray:)`` stopped.
    enum MemberScanStop {
        /// The object ended; the index after its `}`.
        case end(Int)
        /// At the `[` of a `batch` member's array, which the caller walks itself, then resumes.
        case batchArray(Int)
    }

    /// The key Inlet reads whose text (between the quotes) is `keyRange`, judged by ``flags``
    /// as scanning the key string left them; nil for any other key. `decoded` is scratch space.
    @inline(__always)
    func memberKey(_ keyRange: Range<Int>, decoded: inout [UInt8]) -> MessageFields.Key? {
        if flags.isEmpty { return .match(bytes + keyRange.lowerBound, keyRange.count) }
        // An escaped or repaired key (rare): compared by its decoded text.
        decoded.removeAll(keepingCapacity: true)
        JSONSanitizer.appendText(bytes, keyRange, to: &decoded)
        return decoded.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.flatMap { MessageFields.Key.match($0, buffer.count) }
        }
    }

    /// Scans the object at `start` (a `{`) as a message: validates all of it and records the
    /// members Inlet reads.
    mutating func scanMessage(_ start: Int, depth: Int) throws(JSONSyntaxError) -> (end: Int, fields: MessageFields) {
        guard depth <= maxDepth else { throw JSONSyntaxError(.tooDeep(limit: maxDepth), at: start) }
        var fields = MessageFields()
        let stop = try scanMembers(from: start + 1, afterValue: false, fields: &fields, depth: depth, stopAtBatchArray: false)
        guard case .end(let end) = stop else { preconditionFailure("a message scan stops only at the end of the object") }
        return (end, fields)
    }

    /// Scans an object's members from `start` — just after its `{`, or, with `afterValue`, just
    /// after a member's value — validating them and recording those Inlet reads into `fields`.
    /// With `stopAtBatchArray` (the body's top-level object, a possible envelope) it stops at the
    /// `[` of a `batch` member, so that the caller can walk the messages in it as it goes rather
    /// than skipping them first and walking them again; other `batch` values are recorded.
    mutating func scanMembers(
        from start: Int, afterValue: Bool, fields: inout MessageFields, depth: Int, stopAtBatchArray: Bool
    ) throws(JSONSyntaxError) -> MemberScanStop {
        var i = skipWhitespace(start)
        guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
        if afterValue {
            if bytes[i] == Self.closeBrace { return .end(i + 1) }
            guard bytes[i] == Self.comma else { throw JSONSyntaxError(.unexpectedCharacter, at: i) }
            i = skipWhitespace(i + 1)
            guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
        } else if bytes[i] == Self.closeBrace {
            return .end(i + 1)
        }
        var decodedKey: [UInt8] = []
        while true {
            guard bytes[i] == Self.quote else { throw JSONSyntaxError(.unexpectedCharacter, at: i) }
            flags = []
            let keyEnd = try scanString(i)
            let key = memberKey((i + 1)..<(keyEnd - 1), decoded: &decodedKey)
            i = skipWhitespace(keyEnd)
            guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
            guard bytes[i] == Self.colon else { throw JSONSyntaxError(.unexpectedCharacter, at: i) }
            i = skipWhitespace(i + 1)
            guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }

            if key == .batch, stopAtBatchArray, bytes[i] == Self.openBracket { return .batchArray(i) }
            flags = []
            let (kind, end) = try scanValue(i, depth: depth + 1)
            if let key, key != .batch || stopAtBatchArray {
                let range = kind == .string ? (i + 1)..<(end - 1) : i..<end
                fields[key] = ScannedValue(kind: kind, range: range, flags: flags)
            }
            i = skipWhitespace(end)
            guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
            if bytes[i] == Self.comma {
                i = skipWhitespace(i + 1)
                guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
                continue
            }
            if bytes[i] == Self.closeBrace { return .end(i + 1) }
            throw JSONSyntaxError(.unexpectedCharacter, at: i)
        }
    }
}
