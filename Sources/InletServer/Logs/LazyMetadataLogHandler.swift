import Logging

/// swift-log's `StreamLogHandler` (standard error, same lines), except that metadata is formatted
/// when a line is written, not whenever it is set.
///
/// Hummingbird sets `hb.request.id` on a copy of the server's logger for every request, and
/// `StreamLogHandler` formats its whole metadata on every set: sorting, a string per entry and
/// the request id in hex cost ~3 % of the CPU of a single-message request (perf, issue 14), for
/// lines that at the default level are almost never written.
public struct LazyMetadataLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String

    public init(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var stream = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
        stream.logLevel = logLevel
        stream.metadata = metadata
        stream.log(event: event)
    }
}
