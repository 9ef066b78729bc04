import Configuration

/// What the daily retention job of `inlet serve` removes (README, "Retention").
public struct RetentionConfiguration: Sendable {
    /// Months of the message tables whose end is older than this are dropped; kept forever when nil.
    public var retention: Duration?
    /// Quarantined messages, traffic hours and finished erasure requests older than this are deleted.
    public var serviceRetention: Duration = .seconds(90 * 86_400)

    public init() {}

    /// The shortest `INLET_RETENTION` accepted.
    public static let shortestRetention = Duration.seconds(31 * 86_400)

    /// Reads `INLET_RETENTION` (`inlet.retention`, unset: months are kept) and
    /// `INLET_SERVICE_RETENTION` (`inlet.service.retention`, default `90d`).
    public init(reader: ConfigReader) throws {
        retention = try DurationText.read(reader, "inlet.retention")
        // Operators often write 0 to mean "off": here it would drop every month but the
        // current one. A retention shorter than a month is refused at start.
        if let retention, retention < Self.shortestRetention {
            throw DurationText.InvalidDuration(
                description: "INLET_RETENTION=\(retention.components.seconds)s would drop every month but the current one: "
                    + "set at least 31d, or leave it unset to keep every month")
        }
        if let service = try DurationText.read(reader, "inlet.service.retention") { serviceRetention = service }
    }
}
