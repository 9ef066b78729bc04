/// An erasure request that cannot be made as asked.
public struct ErasureError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
