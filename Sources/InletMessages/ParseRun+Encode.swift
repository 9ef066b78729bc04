import PostgresClient

extension ParseRun {
    /// Appends the row of a valid message to its table's encoder, in ``EventTable/columns`` order.
    mutating func encode(_ message: ValidMessage, raw: Range<Int>, index: Int) {
        let table = message.table
        // Taken out of the batch while it is written, so it can be passed `inout` alongside self.
        var encoder = BinaryCopyEncoder()
        swap(&encoder, &batch.encoders[table.rawValue])
        defer { swap(&encoder, &batch.encoders[table.rawValue]) }

        let rowStart = encoder.bytes.count
        encoder.beginRow(fieldCount: table.fieldCount)
        encoder.appendInt8(tenantID)

        let idStart = encoder.bytes.count + 4
        if let messageID = message.messageID {
            writeText(messageID, to: &encoder)
        } else {
            MessageID.generatedBytes(bytes, raw).withUnsafeBytes { encoder.appendText(utf8: $0) }
        }
        let idRange = idStart..<encoder.bytes.count

        writeText(message.anonymousID, to: &encoder)
        writeText(message.userID, to: &encoder)
        let times = message.times
        encoder.appendTimestamptz(times.timestamp)
        if let value = times.originalTimestamp { encoder.appendTimestamptz(value) } else { encoder.appendNull() }
        if let value = times.sentAt { encoder.appendTimestamptz(value) } else { encoder.appendNull() }
        encoder.appendTimestamptz(times.receivedAt)
        let fields = message.fields
        writeMerged(object(fields.context), envelopeMembers: envelope.contextMembers, to: &encoder)
        writeMerged(object(fields.integrations), envelopeMembers: envelope.integrationsMembers, to: &encoder)

        switch table {
        case .tracks:
            writeEvent(fields.event, to: &encoder)
            writeJSONB(object(fields.properties), to: &encoder)
        case .identifies:
            writeTraits(fields, to: &encoder)
        case .pages:
            writeText(string(fields.name), to: &encoder)
            writeText(string(fields.category), to: &encoder)
            writeJSONB(object(fields.properties), to: &encoder)
        case .screens:
            writeText(string(fields.name), to: &encoder)
            writeJSONB(object(fields.properties), to: &encoder)
        case .groups:
            writeText(fields.groupId, to: &encoder)
            writeTraits(fields, to: &encoder)
        case .aliases:
            writeText(fields.previousId, to: &encoder)
        }

        batch.rows.append(
            EncodedRow(
                table: table, byteRange: rowStart..<encoder.bytes.count, timestamp: times.timestamp, messageIndex: index,
                messageIDRange: idRange, timestampFromArrival: times.timestampFromArrival))
    }

    private func object(_ value: ScannedValue?) -> ScannedValue? {
        guard let value, value.kind == .object else { return nil }
        return value
    }

    private func string(_ value: ScannedValue?) -> ScannedValue? {
        guard let value, value.kind == .string else { return nil }
        return value
    }

    private func buffer(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + range.lowerBound, count: range.count)
    }

    /// A text column: a string's decoded text, or a number's text as written; NULL for nil.
    private mutating func writeText(_ value: ScannedValue?, to encoder: inout BinaryCopyEncoder) {
        guard let value else { return encoder.appendNull() }
        if value.kind != .string || value.isClean {
            encoder.appendText(utf8: buffer(value.range))
        } else {
            scratch.removeAll(keepingCapacity: true)
            JSONSanitizer.appendText(bytes, value.range, to: &scratch)
            scratch.withUnsafeBytes { encoder.appendText(utf8: $0) }
        }
    }

    /// A jsonb column: the value's bytes as they are, or repaired when scanning flagged them.
    private mutating func writeJSONB(_ value: ScannedValue?, to encoder: inout BinaryCopyEncoder) {
        guard let value else { return encoder.appendNull() }
        if value.isClean {
            encoder.appendJSONB(utf8: buffer(value.range))
        } else {
            scratch.removeAll(keepingCapacity: true)
            JSONSanitizer.appendJSON(bytes, value.range, to: &scratch)
            scratch.withUnsafeBytes { encoder.appendJSONB(utf8: $0) }
        }
    }

    /// `context` / `integrations`: the envelope's members merged with the message's own.
    ///
    /// jsonb keeps the last of duplicate keys, so `{` envelope members `,` message members `}`
    /// is the key-by-key merge with the message winning, without comparing a single key.
    private mutating func writeMerged(_ value: ScannedValue?, envelopeMembers: [UInt8], to encoder: inout BinaryCopyEncoder) {
        guard !envelopeMembers.isEmpty else { return writeJSONB(value, to: &encoder) }
        let field = encoder.beginField()
        encoder.appendToField(1)  // jsonb version
        encoder.appendToField(JSONScanner.openBrace)
        encoder.appendToField(envelopeMembers)
        if let value {
            let members = innerMembers(of: value)
            if !members.isEmpty {
                encoder.appendToField(JSONScanner.comma)
                if value.isClean {
                    encoder.appendToField(buffer(members))
                } else {
                    scratch.removeAll(keepingCapacity: true)
                    JSONSanitizer.appendJSON(bytes, members, to: &scratch)
                    encoder.appendToField(scratch)
                }
            }
        }
        encoder.appendToField(JSONScanner.closeBrace)
        encoder.endField(startedAt: field)
    }

    /// `event` (the slug) and `event_text` (the name as sent).
    private mutating func writeEvent(_ value: ScannedValue?, to encoder: inout BinaryCopyEncoder) {
        guard let value else {
            encoder.appendNull()
            return encoder.appendNull()
        }
        scratch.removeAll(keepingCapacity: true)
        if value.isClean {
            scratch.append(contentsOf: buffer(value.range))
        } else {
            JSONSanitizer.appendText(bytes, value.range, to: &scratch)
        }
        scratch2.removeAll(keepingCapacity: true)
        scratch.withUnsafeBytes { EventSlug.append(slugOf: $0, to: &scratch2) }
        scratch2.withUnsafeBytes { encoder.appendText(utf8: $0) }
        scratch.withUnsafeBytes { encoder.appendText(utf8: $0) }
    }

    /// `traits`: the message's own, else (identify and group, as some SDKs send them) the
    /// `traits` of the merged context when that is an object.
    private mutating func writeTraits(_ fields: MessageFields, to encoder: inout BinaryCopyEncoder) {
        if let traits = fields.traits, !traits.isNull { return writeJSONB(object(traits), to: &encoder) }
        scratch.removeAll(keepingCapacity: true)
        if let context = object(fields.context),
            let traits = JSONMembers.lastValue(named: "traits", in: bytes, innerMembers(of: context))
        {
            // The message's context has the key, so it wins whatever its value.
            if bytes[traits.lowerBound] == JSONScanner.openBrace {
                JSONSanitizer.appendJSON(bytes, traits, to: &scratch)
            }
        } else if !envelope.contextMembers.isEmpty {
            envelope.contextMembers.withUnsafeBufferPointer { members in
                guard let base = members.baseAddress,
                    let traits = JSONMembers.lastValue(named: "traits", in: base, 0..<members.count),
                    base[traits.lowerBound] == JSONScanner.openBrace
                else { return }
                // Already repaired when the envelope was read.
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: members[traits]))
            }
        }
        if scratch.isEmpty {
            encoder.appendNull()
        } else {
            scratch.withUnsafeBytes { encoder.appendJSONB(utf8: $0) }
        }
    }
}
