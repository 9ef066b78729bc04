import Hummingbird
import InletGzip
import NIOCore

/// Reads an ingest request's body within the size limits and the in-flight ``BodyBudget``,
/// and inflates it when it is gzipped.
///
/// What the reservation counts, so that nothing is counted twice: a plain body is held twice
/// from the start (the body, and the rows parsed from it, about as large, which exist together
/// until parsing ends). A gzipped body is held once while it arrives, then once more for each
/// piece of output as it is inflated (the compressed body and its inflated form exist together),
/// then, once the compressed body is dropped, twice the inflated size (that, and its rows).
struct RequestBodyReader {
    let maxBodyBytes: Int
    let maxDecompressedBytes: Int
    let retryAfterSeconds: Int

    /// A body ready to parse.
    enum Body {
        case received(ByteBuffer)
        case inflated([UInt8])

        func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            switch self {
            case .received(let buffer): try buffer.withUnsafeReadableBytes(body)
            case .inflated(let bytes): try bytes.withUnsafeBytes(body)
            }
        }
    }

    /// The 413 for a declared `Content-Length` over the limit, answered from the headers: the
    /// body is never read.
    func checkDeclaredLength(_ declared: Int?) throws {
        if let declared, declared > maxBodyBytes { throw tooLarge() }
    }

    /// Reads the body as received, refusing it with 413 as soon as it passes the limit (a
    /// chunked body has no length to check first) and with 503 when the budget is spent.
    /// `declared` (the Content-Length, already checked) reserves and sizes the buffer at once.
    func read(
        _ body: RequestBody, declared: Int?, gzipped: Bool, reservation: inout BodyReservation
    ) async throws -> ByteBuffer {
        // Plain: the body and its rows. Gzipped: the body only; its rows come from what it inflates to.
        let factor = gzipped ? 1 : 2
        if let declared, !reservation.resize(to: factor * declared) { throw overBudget() }
        var collected = ByteBufferAllocator().buffer(capacity: declared ?? 0)
        for try await chunk in body {
            guard collected.readableBytes + chunk.readableBytes <= maxBodyBytes else { throw tooLarge() }
            let total = factor * (collected.readableBytes + chunk.readableBytes)
            if total > reservation.bytes, !reservation.resize(to: total) { throw overBudget() }
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return collected
    }

    /// Inflates a gzipped body in place, within the decompressed limit, reserving its output
    /// as it grows; the compressed body is dropped before the rows are made.
    func inflate(_ body: inout Body, reservation: inout BodyReservation) throws {
        guard case .received(let compressed) = body else { return }
        let inflated: [UInt8] = try compressed.withUnsafeReadableBytes { raw in
            do {
                return try Gunzip.decompress(raw, limit: maxDecompressedBytes) { reservation.grow(by: $0) }
            } catch Gunzip.Failure.tooLarge {
                throw IngestError.tooLarge("body is larger than \(maxDecompressedBytes) bytes once decompressed")
            } catch Gunzip.Failure.notAdmitted {
                throw overBudget()
            } catch {
                throw IngestError.badRequest("body is not valid gzip")
            }
        }
        body = .inflated(inflated)
        // Now the inflated body, and its rows to come. Shrinking never fails; growing fails
        // only when other requests hold the budget.
        guard reservation.resize(to: 2 * inflated.count) else { throw overBudget() }
    }

    private func tooLarge() -> IngestError {
        IngestError.tooLarge("body is larger than \(maxBodyBytes) bytes")
    }

    private func overBudget() -> IngestError {
        IngestError.unavailable(
            "too many request bodies in flight, retry later", reason: .bodyBudget, retryAfter: retryAfterSeconds)
    }
}
