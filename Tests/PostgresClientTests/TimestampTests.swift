import PostgresClient
import Testing

@Suite struct TimestampTests {
    @Test func postgresEpochIsTheYear2000() {
        #expect(Timestamp(.init(year: 2000, month: 1, day: 1)).microsecondsSincePostgresEpoch == 0)
        #expect(Timestamp(.init(year: 1970, month: 1, day: 1)).microsecondsSinceUnixEpoch == 0)
    }

    @Test(arguments: [
        ("2024-03-05 07:08:09.123456+00", Timestamp.Components(year: 2024, month: 3, day: 5, hour: 7, minute: 8, second: 9, microsecond: 123_456)),
        ("1969-12-31 23:59:59.999999+00", .init(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59, microsecond: 999_999)),
        ("0001-01-01 00:00:00+00 BC", .init(year: 0, month: 1, day: 1)),
        ("200000-12-31 00:00:00+00", .init(year: 200_000, month: 12, day: 31)),
    ])
    func textRoundTrips(text: String, components: Timestamp.Components) throws {
        let timestamp = Timestamp(components)
        #expect(timestamp.postgresText == text)
        #expect(Timestamp(parsing: text) == timestamp)
        #expect(timestamp.components == components)
    }

    @Test func offsetsAreApplied() {
        let utc = Timestamp(.init(year: 2024, month: 1, day: 1, hour: 10))
        #expect(Timestamp(parsing: "2024-01-01 12:30:00+02:30") == utc)
        #expect(Timestamp(parsing: "2024-01-01 05:00:00-05") == utc)
        #expect(Timestamp(parsing: "2024-01-01 10:00:00.5+00")?.microsecondsSinceUnixEpoch == utc.microsecondsSinceUnixEpoch + 500_000)
        #expect(Timestamp(parsing: "not a time") == nil)
    }
}
