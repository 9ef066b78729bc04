import Foundation

/// A PostgreSQL `timestamptz` value: microseconds since 1970-01-01 00:00:00 UTC.
///
/// `Date` is a `Double` and loses microseconds far from 2001; Postgres keeps exact microseconds
/// from 4713 BC to 294276 AD, so Inlet carries the integer. The calendar is the proleptic
/// Gregorian one Postgres uses, with astronomical year numbering (year 0 is 1 BC).
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microsecondsSinceUnixEpoch: Int64

    public init(microsecondsSinceUnixEpoch: Int64) {
        self.microsecondsSinceUnixEpoch = microsecondsSinceUnixEpoch
    }

    /// The timestamp nearest to `date`, to the microsecond.
    public init(_ date: Date) {
        self.microsecondsSinceUnixEpoch = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// The current wall-clock time.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(microsecondsSinceUnixEpoch: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000)
    }

    public var date: Date { Date(timeIntervalSince1970: Double(microsecondsSinceUnixEpoch) / 1_000_000) }

    /// Seconds between 1970-01-01 and 2000-01-01, the epoch of Postgres's binary format.
    public static let postgresEpochOffsetMicroseconds: Int64 = 946_684_800 * 1_000_000

    /// Microseconds since 2000-01-01 00:00:00 UTC, as `timestamptz` travels in binary COPY.
    public var microsecondsSincePostgresEpoch: Int64 {
        microsecondsSinceUnixEpoch - Self.postgresEpochOffsetMicroseconds
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microsecondsSinceUnixEpoch < rhs.microsecondsSinceUnixEpoch
    }

    public var description: String { postgresText }
}

// MARK: - Civil calendar

extension Timestamp {
    /// A UTC date and time in the proleptic Gregorian calendar.
    public struct Components: Hashable, Sendable {
        public var year: Int  // astronomical: 0 is 1 BC, -1 is 2 BC
        public var month: Int
        public var day: Int
        public var hour: Int
        public var minute: Int
        public var second: Int
        public var microsecond: Int

        public init(
            year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0,
            microsecond: Int = 0
        ) {
            self.year = year
            self.month = month
            self.day = day
            self.hour = hour
            self.minute = minute
            self.second = second
            self.microsecond = microsecond
        }
    }

    public init(_ c: Components) {
        let days = Self.daysFromCivil(year: c.year, month: c.month, day: c.day)
        let seconds = Int64(days) * 86_400 + Int64(c.hour * 3_600 + c.minute * 60 + c.second)
        self.init(microsecondsSinceUnixEpoch: seconds * 1_000_000 + Int64(c.microsecond))
    }

    public var components: Components {
        let micros = microsecondsSinceUnixEpoch
        let (days, microsOfDay) = micros.floorDivided(by: 86_400_000_000)
        let (year, month, day) = Self.civilFromDays(Int(days))
        let secondsOfDay = Int(microsOfDay / 1_000_000)
        return Components(
            year: year, month: month, day: day, hour: secondsOfDay / 3_600,
            minute: secondsOfDay % 3_600 / 60, second: secondsOfDay % 60,
            microsecond: Int(microsOfDay % 1_000_000))
    }

    // Howard Hinnant's days_from_civil / civil_from_days: exact for any year, no tables.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    /// Division rounding toward negative infinity, with a non-negative remainder.
    func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        var q = self / divisor
        var r = self % divisor
        if r < 0 {
            q -= 1
            r += divisor
        }
        return (q, r)
    }
}
