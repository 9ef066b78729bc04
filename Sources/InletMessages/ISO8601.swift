import PostgresClient

/// Parses the ISO 8601 timestamps Segment sends, straight from the body's bytes.
///
/// Accepted: `YYYY-MM-DD` then `T`, `t` or a space, `hh:mm`, optional `:ss`, an optional fraction
/// after `.` or `,` of any number of digits (microseconds are kept, further digits truncated),
/// then `Z`/`z`, `±hh:mm`, `±hhmm` or `±hh`. Without an offset the time is taken as UTC (Segment's
/// libraries always send one; UTC is what a server-side sender means). Years 0000–9999 only.
/// A second of 60 (a leap second) counts as the first second of the next minute, as in Postgres.
/// Anything else is not a timestamp (`nil`): the message field is then treated as absent.
enum ISO8601 {
    static func parse(_ p: UnsafePointer<UInt8>, _ range: Range<Int>) -> Timestamp? {
        var i = range.lowerBound
        let end = range.upperBound
        guard end - i >= 16 else { return nil }

        func digits(_ n: Int) -> Int? {
            guard i + n <= end else { return nil }
            var value = 0
            for k in 0..<n {
                let d = p[i + k] &- 0x30
                guard d < 10 else { return nil }
                value = value * 10 + Int(d)
            }
            i += n
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < end, p[i] == c else { return false }
            i += 1
            return true
        }

        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
            let day = digits(2)
        else { return nil }
        guard i < end, p[i] == UInt8(ascii: "T") || p[i] == UInt8(ascii: "t") || p[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hour = digits(2), expect(UInt8(ascii: ":")), let minute = digits(2) else { return nil }
        var second = 0
        var microsecond = 0
        if expect(UInt8(ascii: ":")) {
            guard let s = digits(2) else { return nil }
            second = s
            if i < end, p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: ",") {
                i += 1
                var count = 0
                while i < end, p[i] &- 0x30 < 10 {
                    if count < 6 { microsecond = microsecond * 10 + Int(p[i] - 0x30) }
                    count += 1
                    i += 1
                }
                guard count > 0 else { return nil }
                for _ in min(count, 6)..<6 { microsecond *= 10 }
            }
        }
        var offsetSeconds = 0
        if i < end {
            switch p[i] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                i += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign = p[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let offsetHours = digits(2), offsetHours <= 23 else { return nil }
                var offsetMinutes = 0
                if i < end {
                    _ = expect(UInt8(ascii: ":"))
                    guard let m = digits(2), m <= 59 else { return nil }
                    offsetMinutes = m
                }
                offsetSeconds = sign * (offsetHours * 3_600 + offsetMinutes * 60)
            default:
                return nil
            }
        }
        guard i == end else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour <= 23, minute <= 59,
            second <= 60
        else { return nil }
        let local = Timestamp(Timestamp.Components(year: year, month: month, day: day, hour: hour, minute: minute, second: second, microsecond: microsecond))
        return Timestamp(microsecondsSinceUnixEpoch: local.microsecondsSinceUnixEpoch - Int64(offsetSeconds) * 1_000_000)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
