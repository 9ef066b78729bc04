// Postgres's text form of timestamptz with `DateStyle = ISO` and `TimeZone = UTC`, which
// `Connection` sets on every session: `2024-03-05 07:08:09.123456+00`, `0044-03-15 12:00:00+00 BC`.

extension Timestamp {
    /// The value as Postgres accepts it in a `timestamptz` parameter.
    public var postgresText: String {
        let c = components
        let bc = c.year <= 0
        let year = bc ? 1 - c.year : c.year
        var text = "\(Self.pad(year, 4))-\(Self.pad(c.month, 2))-\(Self.pad(c.day, 2)) "
        text += "\(Self.pad(c.hour, 2)):\(Self.pad(c.minute, 2)):\(Self.pad(c.second, 2))"
        if c.microsecond != 0 { text += ".\(Self.pad(c.microsecond, 6))" }
        text += "+00"
        if bc { text += " BC" }
        return text
    }

    /// ISO 8601 in UTC with microseconds, as Segment messages carry times:
    /// `2019-03-10T08:00:00.123456Z` (years 1-9999, the plausible range of a message).
    public var iso8601: String {
        let c = components
        return "\(Self.pad(c.year, 4))-\(Self.pad(c.month, 2))-\(Self.pad(c.day, 2))T"
            + "\(Self.pad(c.hour, 2)):\(Self.pad(c.minute, 2)):\(Self.pad(c.second, 2)).\(Self.pad(c.microsecond, 6))Z"
    }

    /// Parses Postgres's ISO output: `YYYY-MM-DD HH:MM:SS[.f+][+|-HH[:MM[:SS]]][ BC]`.
    public init?(parsing text: String) {
        var scanner = DigitScanner(Array(text.utf8))
        guard let year = scanner.number(), scanner.skip("-"),
            let month = scanner.number(), scanner.skip("-"),
            let day = scanner.number(), scanner.skip(" ") || scanner.skip("T"),
            let hour = scanner.number(), scanner.skip(":"),
            let minute = scanner.number(), scanner.skip(":"),
            let second = scanner.number()
        else { return nil }
        var microsecond = 0
        if scanner.skip(".") {
            var scale = 100_000
            while let digit = scanner.digit() {
                microsecond += digit * scale
                scale /= 10
            }
        }
        var offsetSeconds = 0
        if let sign = scanner.peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            scanner.advance()
            guard let hours = scanner.number() else { return nil }
            var offset = hours * 3_600
            if scanner.skip(":"), let minutes = scanner.number() { offset += minutes * 60 }
            if scanner.skip(":"), let seconds = scanner.number() { offset += seconds }
            offsetSeconds = sign == UInt8(ascii: "+") ? offset : -offset
        }
        let bc = scanner.skip(" BC")
        guard scanner.atEnd, (1...12).contains(month), (1...31).contains(day) else { return nil }
        self.init(
            Components(
                year: bc ? 1 - year : year, month: month, day: day, hour: hour, minute: minute,
                second: second, microsecond: microsecond))
        microsecondsSinceUnixEpoch -= Int64(offsetSeconds) * 1_000_000
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A tiny cursor over ASCII bytes for the fixed formats above.
private struct DigitScanner {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }
    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }
    mutating func advance() { index += 1 }

    mutating func digit() -> Int? {
        guard let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        index += 1
        return Int(byte - UInt8(ascii: "0"))
    }

    mutating func number() -> Int? {
        guard var value = digit() else { return nil }
        while let next = digit() { value = value * 10 + next }
        return value
    }

    mutating func skip(_ literal: String) -> Bool {
        let literalBytes = Array(literal.utf8)
        guard bytes.count - index >= literalBytes.count,
            bytes[index..<index + literalBytes.count].elementsEqual(literalBytes)
        else { return false }
        index += literalBytes.count
        return true
    }
}
