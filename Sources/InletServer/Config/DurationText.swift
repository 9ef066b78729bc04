import Configuration

/// A duration as operators write it: `30s`, `90m`, `24h`, `400d`, or plain seconds.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        if let unit = text.last, let scale = units[unit], let value = Int64(text.dropLast()), value >= 0 {
            // A value too large to be a duration (99999999999999999d) is not one, not a crash.
            let (seconds, overflow) = value.multipliedReportingOverflow(by: scale)
            return overflow ? nil : .seconds(seconds)
        }
        return Int64(text).flatMap { $0 >= 0 ? .seconds($0) : nil }
    }

    /// The duration under `key` (`inlet.retention` is `INLET_RETENTION`), nil when unset or
    /// empty; an unreadable one stops the server at start rather than being ignored.
    static func read(_ reader: ConfigReader, _ key: String) throws -> Duration? {
        guard let text = reader.string(forKey: ConfigKey(key)), !text.isEmpty else { return nil }
        guard let duration = parse(text) else {
            let variable = key.uppercased().replacing(".", with: "_")
            throw InvalidDuration(description: "\(variable)=\(text): expected a number followed by s, m, h or d, e.g. 400d")
        }
        return duration
    }

    /// A configured duration that is not one.
    public struct InvalidDuration: Error, CustomStringConvertible, Sendable {
        public let description: String
    }
}
