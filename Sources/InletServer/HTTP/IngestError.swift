import Foundation
import HTTPTypes
import Hummingbird

/// An ingest request that ends in an error status, with the `{"message": ...}` body Segment
/// shows in its debugger and, for statuses Segment retries, `Retry-After`.
struct IngestError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    var retryAfterSeconds: Int?
    var rejected: [RejectedEntry] = []
    /// Why a 503 was answered (`inlet_responses_503_total{reason}`).
    var unavailableReason: UnavailableReason?
    /// The answer was decided before the body was read: it asks to close the connection, and
    /// ``ConnectionCloseHandler`` closes it once the answer is written, instead of Hummingbird
    /// reading (and throwing away) the rest of a body that may be 20 MB or never end.
    var closesConnection = false

    static func unauthorized(_ message: String) -> Self { Self(status: .unauthorized, message: message) }
    static func badRequest(_ message: String) -> Self { Self(status: .badRequest, message: message) }
    static func tooLarge(_ message: String) -> Self { Self(status: .contentTooLarge, message: message) }
    static func unsupportedMedia(_ message: String) -> Self { Self(status: .unsupportedMediaType, message: message) }
    static func notImplemented(_ message: String) -> Self { Self(status: .notImplemented, message: message) }
    static func unavailable(_ message: String, reason: UnavailableReason, retryAfter: Int) -> Self {
        Self(status: .serviceUnavailable, message: message, retryAfterSeconds: retryAfter, unavailableReason: reason)
    }
    static func tooManyRequests(_ message: String, retryAfter: Int) -> Self {
        Self(status: .tooManyRequests, message: message, retryAfterSeconds: retryAfter)
    }

    struct Body: Encodable {
        let message: String
        let rejected: [RejectedEntry]?
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        if closesConnection { headers[.connection] = "close" }
        let body = try JSONEncoder.sorted.encode(Body(message: message, rejected: rejected.isEmpty ? nil : rejected))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// One entry of a response's `rejected` list.
struct RejectedEntry: Encodable, Equatable {
    let index: Int
    let messageId: String?
    let reason: String
}

/// The 200 answer: `{"accepted": N, "duplicates": D, "rejected": [...]}`.
struct IngestAccepted: ResponseGenerator {
    let accepted: Int
    let duplicates: Int
    let rejected: [RejectedEntry]

    struct Body: Encodable {
        let accepted: Int
        let duplicates: Int
        let rejected: [RejectedEntry]
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body: ByteBuffer
        if rejected.isEmpty {
            // The usual answer, written out: JSONEncoder took ~4 % of the CPU of a
            // single-message request (perf, issue 14). Same bytes as the encoder's.
            body = ByteBuffer(string: #"{"accepted":\#(accepted),"duplicates":\#(duplicates),"rejected":[]}"#)
        } else {
            body = ByteBuffer(bytes: try JSONEncoder.sorted.encode(Body(accepted: accepted, duplicates: duplicates, rejected: rejected)))
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: body))
    }
}

extension JSONEncoder {
    /// Keys in a stable order (`accepted`, `duplicates`, `rejected` read as SPEC lists them).
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
