import Configuration

/// How `inlet serve` carries out erasure requests (README, "Erasure").
public struct ErasureConfiguration: Sendable {
    /// How often the server looks for unfinished requests: a request starts within this.
    public var interval: Duration = .seconds(10)

    public init() {}

    /// Reads `INLET_ERASURE_INTERVAL` (`inlet.erasure.interval`, default `10s`).
    public init(reader: ConfigReader) throws {
        if let interval = try DurationText.read(reader, "inlet.erasure.interval") { self.interval = max(interval, .milliseconds(100)) }
    }
}
