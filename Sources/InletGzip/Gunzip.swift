import CZlib

/// Decompresses a gzip body with a hard bound on the output size. Its own module so that the
/// fuzz target (InletFuzz) drives the same code as `inlet serve`.
///
/// Inflation stops as soon as the output would pass `limit`, so a zip bomb costs at most
/// `limit` bytes of memory and the time to produce them.
public enum Gunzip {
    public enum Failure: Error, Equatable {
        /// The decompressed body would be larger than the limit.
        case tooLarge
        /// Not gzip, or truncated, or corrupt.
        case invalid
        /// `admit` refused more output (the server's in-flight memory budget is spent).
        case notAdmitted
    }

    /// Decompresses `input`, at most `limit` bytes of output.
    /// - Parameter admit: asked before each piece of output (64 KiB at most) is kept, with its
    ///   size; false stops inflation with ``Failure/notAdmitted``. The server counts the output
    ///   against its in-flight budget as it grows, not once it exists.
    public static func decompress(
        _ input: UnsafeRawBufferPointer, limit: Int, admit: (Int) -> Bool = { _ in true }
    ) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        guard inlet_inflate_init_gzip(&stream) == Z_OK else { throw .invalid }
        defer { inflateEnd(&stream) }

        var output = [UInt8]()
        output.reserveCapacity(min(limit, max(64 * 1024, input.count * 4)))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        guard let inputBase = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw .invalid }
        stream.next_in = UnsafeMutablePointer(mutating: inputBase)
        stream.avail_in = UInt32(input.count)

        while true {
            let status: Int32 = chunk.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress
                stream.avail_out = UInt32(buffer.count)
                return inflate(&stream, Z_NO_FLUSH)
            }
            let produced = chunk.count - Int(stream.avail_out)
            if output.count + produced > limit { throw .tooLarge }
            if produced > 0, !admit(produced) { throw .notAdmitted }
            output.append(contentsOf: chunk[0..<produced])
            switch status {
            case Z_STREAM_END:
                // Concatenated gzip members are valid gzip; continue with the next member.
                if stream.avail_in > 0 {
                    guard inflateReset(&stream) == Z_OK else { throw .invalid }
                    continue
                }
                return output
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.avail_in > 0 || produced > 0:
                continue
            default:
                // Z_BUF_ERROR with no input left: the stream is truncated.
                throw .invalid
            }
        }
    }
}
