/// The bounds ``MessageParser`` enforces on one request body.
public struct MessageLimits: Sendable {
    /// A message whose bytes in the body are longer than this is refused (Segment's limit is 32 KiB).
    public var maxMessageBytes: Int
    /// The deepest nesting accepted. A message object itself is depth 1, its `properties` 2, and so
    /// on; for the body, the envelope or bare array is depth 1. Deeper JSON is refused rather than
    /// parsed: jsonb and BI tools gain nothing from it and it costs stack elsewhere.
    public var maxDepth: Int
    /// More messages than this in one body refuse the whole body.
    public var maxMessagesPerBody: Int

    public init(maxMessageBytes: Int = 32 * 1024, maxDepth: Int = 64, maxMessagesPerBody: Int = 10_000) {
        self.maxMessageBytes = maxMessageBytes
        self.maxDepth = maxDepth
        self.maxMessagesPerBody = maxMessagesPerBody
    }
}
