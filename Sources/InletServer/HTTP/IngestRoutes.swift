import Foundation
import HTTPTypes
import Hummingbird
import InletMessages
import Logging
import NIOCore
import PostgresClient

/// The ingest routes: `POST /` (Segment partner destination) and the Segment HTTP Tracking API
/// (`POST /v1/batch`, `POST /v1/{track,identify,page,screen,group,alias}`).
///
/// request → content checks and header credentials → read body (bounded, gunzip bounded) →
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
        let reader = RequestBodyReader(
            maxBodyBytes: configuration.maxBodyBytes, maxDecompressedBytes: configuration.maxDecompressedBytes,
            retryAfterSeconds: configuration.retryAfterSeconds)
        var reservation = bodyBudget.reservation()

        // Everything the headers can decide is decided before the body is read, so a refused
        // request costs nothing more; such an answer closes the connection (see IngestError).
        let gzipped: Bool
        var tenantID: Int64?
        var body: RequestBodyReader.Body
        do {
            try checkContentType(request.headers[.contentType])
            gzipped = try isGzip(request.headers[.contentEncoding])
            let declared = request.headers[.contentLength].flatMap { Int($0) }.map { max($0, 0) }
            try reader.checkDeclaredLength(declared)
            switch Credentials.token(fromAuthorization: request.headers[.authorization]) {
            case .token(let token): tenantID = try tenant(for: token)
            case .malformed: throw IngestError.unauthorized("malformed Authorization header: expected Basic base64(token:)")
            case .none: break
            }
            body = .received(
                try await reader.read(request.body, declared: declared, gzipped: gzipped, reservation: &reservation))
        } catch var error as IngestError {
            error.closesConnection = true
            throw error
        }
        if gzipped { try reader.inflate(&body, reservation: &reservation) }

        // Without a header, the body's writeKey authenticates; it is found without parsing the
        // body, so an unknown key is refused before the server spends a parse on it.
        if tenantID == nil {
            guard let writeKey = body.withUnsafeBytes({ parser.writeKey(in: $0) }), !writeKey.isEmpty else {
                throw IngestError.unauthorized("missing credentials: send Authorization: Basic base64(token:) or a writeKey")
            }
            tenantID = try tenant(for: writeKey)
        }
        guard let tenantID else { throw IngestError.unauthorized("authentication failed") }
        if let name = Self.segmentSettingsHeader, let header = request.headers[name] {
            settings.observe(tenantID: tenantID, header: header)
        }

        let batch: ParsedBatch
        do {
            batch = try body.withUnsafeBytes {
                try parser.parse($0, tenantID: tenantID, impliedType: impliedType, arrival: arrival)
            }
        } catch let error as BodyError {
            throw IngestError.badRequest(error.description)
        }
        // The rows exist and the queue accounts for them from here; the body is dropped now (a
        // variable lives to the end of its scope, across the wait for the commit, otherwise).
        body = .inflated([])
        _ = consume reservation

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
        case .databaseFailing:
            throw IngestError.unavailable(
                "the database cannot store messages now (not a fault of the messages), retry later", reason: .databaseError,
                retryAfter: retryAfter)
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
        let mediaType = HeaderValue.mediaType(value)
        guard mediaType == "application/json" || mediaType == "text/plain" || mediaType.hasSuffix("+json") else {
            throw IngestError.unsupportedMedia("Content-Type \(mediaType) is not supported: send application/json")
        }
    }

    private func isGzip(_ value: String?) throws -> Bool {
        guard let value else { return false }
        switch HeaderValue.normalized(value[...]) {
        case "", "identity": return false
        case "gzip", "x-gzip": return true
        default: throw IngestError.unsupportedMedia("Content-Encoding \(value) is not supported: send gzip or none")
        }
    }
}
