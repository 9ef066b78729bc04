import Foundation
import HTTPTypes
import Hummingbird
import InletGzip
import InletMessages
import Logging
import NIOCore
import PostgresClient

/// The ingest routes: `POST /` (Segment partner destination) and the Segment HTTP Tracking API
/// (`POST /v1/batch`, `POST /v1/{track,identify,page,screen,group,alias}`).
///
/// request → content checks → header credentials → read body (bounded, gunzip bounded) →
/// writeKey credentials (found without parsing) → parse and validate, rows encoded with the
/// tenant → queue → writer commits → answer. A 2xx is sent only after the commit.
struct IngestRoutes: Sendable {
    let tenants: TenantDirectory
    let queue: IngestQueue
    let parser: MessageParser
    let configuration: IngestConfiguration
    let settings: SegmentSettings
    let bodyBudget: BodyBudget

    static let segmentSettingsHeader = HTTPField.Name("X-Segment-Settings")

    func register(on router: Router<some RequestContext>) {
        router.post("/") { request, context in try await ingest(request, impliedType: nil) }
        router.post("/v1/batch") { request, context in try await ingest(request, impliedType: nil) }
        for type in MessageType.allCases where type != .delete {
            router.post("/v1/\(type.rawValue)") { request, context in try await ingest(request, impliedType: type) }
        }
    }

    func ingest(_ request: Request, impliedType: MessageType?) async throws -> IngestAccepted {
        let arrival = Timestamp.now()
        try checkContentType(request.headers[.contentType])
        let gzipped = try isGzip(request.headers[.contentEncoding])

        // A header token is checked before the body is read, so a bad one costs nothing more.
        var tenantID: Int64?
        switch Credentials.token(fromAuthorization: request.headers[.authorization]) {
        case .token(let token): tenantID = try tenant(for: token)
        case .malformed: throw IngestError.unauthorized("malformed Authorization header: expected Basic base64(token:)")
        case .none: break
        }

        let (batch, authenticated) = try await readAndParse(
            request, gzipped: gzipped, headerTenantID: tenantID, impliedType: impliedType, arrival: arrival)
        tenantID = authenticated
        guard let tenantID else { throw IngestError.unauthorized("authentication failed") }
        if let name = Self.segmentSettingsHeader, let header = request.headers[name] {
            settings.observe(tenantID: tenantID, header: header)
        }

        if batch.messageCount == 0 { return IngestAccepted(accepted: 0, duplicates: 0, rejected: []) }
        if batch.rows.isEmpty && batch.deletes.isEmpty {
            // Nothing valid: the sender must fix the request, so it is refused, not quarantined.
            if batch.isSingleMessage, let only = batch.rejects.first {
                if only.isUnknownType { throw IngestError.notImplemented(only.reason) }
                throw IngestError.badRequest(only.reason)
            }
            var error = IngestError.badRequest("no valid message in the body")
            error.rejected = batch.rejects.map { RejectedEntry(index: $0.messageIndex, messageId: $0.messageID, reason: $0.reason) }
            throw error
        }

        let retryAfter = configuration.retryAfterSeconds
        switch await queue.submit(batch, tenantID: tenantID) {
        case .committed(let accepted, let duplicates, let rejects):
            return IngestAccepted(
                accepted: accepted, duplicates: duplicates,
                rejected: rejects.map { RejectedEntry(index: $0.messageIndex, messageId: $0.messageID, reason: $0.reason) })
        case .queueFull:
            throw IngestError.unavailable("ingest queue is full, retry later", reason: .queueFull, retryAfter: retryAfter)
        case .tenantOverShare:
            throw IngestError.tooManyRequests("this source is over its share of the ingest queue, retry later", retryAfter: retryAfter)
        case .databaseUnavailable:
            throw IngestError.unavailable("database unavailable, retry later", reason: .databaseUnavailable, retryAfter: retryAfter)
        case .shuttingDown:
            throw IngestError.unavailable("server is shutting down, retry", reason: .shuttingDown, retryAfter: 1)
        }
    }

    private func tenant(for token: String) throws -> Int64 {
        switch tenants.authenticate(token: token) {
        case .tenant(let id): return id
        case .unknown: throw IngestError.unauthorized("unknown or disabled token")
        case .notLoaded:
            throw IngestError.unavailable(
                "starting: tenants not loaded yet", reason: .tenantsNotLoaded, retryAfter: configuration.retryAfterSeconds)
        }
    }

    private func checkContentType(_ value: String?) throws {
        // Segment and the SDKs send application/json; analytics.js sends text/plain to avoid a
        // CORS preflight. A request without a Content-Type is read as JSON.
        guard let value else { return }
        let mediaType = value.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        guard mediaType == "application/json" || mediaType == "text/plain" || mediaType.hasSuffix("+json") else {
            throw IngestError.unsupportedMedia("Content-Type \(mediaType) is not supported: send application/json")
        }
    }

    private func isGzip(_ value: String?) throws -> Bool {
        guard let value else { return false }
        switch value.trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "identity": return false
        case "gzip", "x-gzip": return true
        default: throw IngestError.unsupportedMedia("Content-Encoding \(value) is not supported: send gzip or none")
        }
    }

    /// Reads, decompresses and parses the body, holding its bytes against the in-flight body
    /// budget until the parsed rows exist (which the queue then accounts for): under overload,
    /// bodies being received count towards memory too, so past the budget a request gets 503 at
    /// once instead of growing the process. The reservation is twice the body: the body, and
    /// the rows parsed from it, about as large, which exist together until parsing ends.
    ///
    /// Without a header token, the body's writeKey authenticates; it is found without parsing
    /// the body, so an unknown key is refused before the server spends a parse on it, and rows
    /// are encoded with the tenant from the start.
    private func readAndParse(
        _ request: Request, gzipped: Bool, headerTenantID: Int64?, impliedType: MessageType?, arrival: Timestamp
    ) async throws -> (ParsedBatch, Int64) {
        // With a Content-Length, the whole reservation before reading; without one (chunked),
        // chunk by chunk as the body arrives.
        let declared = request.headers[.contentLength].flatMap { Int($0) }.map { min(max($0, 0), configuration.maxBodyBytes) }
        var held = 0
        defer { bodyBudget.release(held) }
        if let declared {
            guard bodyBudget.reserve(2 * declared) else { throw overBudget() }
            held = 2 * declared
        }
        var body = try await readBody(request.body, expected: declared ?? 0) { received in
            guard declared == nil else { return }
            guard bodyBudget.reserve(2 * received) else { throw overBudget() }
            held += 2 * received
        }
        if gzipped {
            let inflated: [UInt8] = try body.withUnsafeReadableBytes { raw in
                do {
                    return try Gunzip.decompress(raw, limit: configuration.maxDecompressedBytes)
                } catch Gunzip.Failure.tooLarge {
                    throw IngestError.tooLarge("body is larger than \(configuration.maxDecompressedBytes) bytes once decompressed")
                } catch {
                    throw IngestError.badRequest("body is not valid gzip")
                }
            }
            // The inflated body and the rows parsed from it, about as large again.
            guard bodyBudget.reserve(2 * inflated.count) else { throw overBudget() }
            held += 2 * inflated.count
            body = ByteBuffer(bytes: inflated)
        }
        let tenantID = try headerTenantID ?? body.withUnsafeReadableBytes { raw in
            guard let writeKey = parser.writeKey(in: raw), !writeKey.isEmpty else {
                throw IngestError.unauthorized("missing credentials: send Authorization: Basic base64(token:) or a writeKey")
            }
            return try tenant(for: writeKey)
        }
        do {
            let batch = try body.withUnsafeReadableBytes {
                try parser.parse($0, tenantID: tenantID, impliedType: impliedType, arrival: arrival)
            }
            return (batch, tenantID)
        } catch let error as BodyError {
            throw IngestError.badRequest(error.description)
        }
    }

    private func overBudget() -> IngestError {
        IngestError.unavailable(
            "too many request bodies in flight, retry later", reason: .bodyBudget, retryAfter: configuration.retryAfterSeconds)
    }

    /// Reads the body, refusing it with 413 as soon as it passes the limit. `expected` (the
    /// Content-Length) sizes the buffer once, instead of doubling it as chunks arrive;
    /// `received` is told each chunk's size before it is kept.
    private func readBody(
        _ body: RequestBody, expected: Int, received: (Int) throws -> Void
    ) async throws -> ByteBuffer {
        var collected = ByteBufferAllocator().buffer(capacity: expected)
        for try await chunk in body {
            guard collected.readableBytes + chunk.readableBytes <= configuration.maxBodyBytes else {
                throw IngestError.tooLarge("body is larger than \(configuration.maxBodyBytes) bytes")
            }
            try received(chunk.readableBytes)
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return collected
    }
}
