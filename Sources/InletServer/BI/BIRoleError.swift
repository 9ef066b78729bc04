import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A BI role operation that cannot be done; each case knows its admin API status.
public struct BIRoleError: Error, CustomStringConvertible, Sendable, HTTPResponseError {
    private enum Kind: Sendable {
        case tenantNotFound
        case alreadyGranted
        case notGranted
        case privileges
    }

    private let kind: Kind
    public let description: String

    private init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    static func tenantNotFound(_ id: Int64) -> Self { Self(.tenantNotFound, "no tenant \(id)") }

    static func alreadyGranted(_ id: Int64, role: String) -> Self {
        Self(
            .alreadyGranted,
            "tenant \(id) already has BI role \(role): reset its password (grant-bi --reset-password), or revoke-bi first")
    }

    static func notGranted(_ id: Int64) -> Self { Self(.notGranted, "tenant \(id) has no BI role") }

    /// The database role Inlet connects as cannot manage roles, or the shared group is unsafe.
    static func privileges(_ description: String) -> Self { Self(.privileges, description) }

    public var isNotFound: Bool { kind == .tenantNotFound || kind == .notGranted }

    public var status: HTTPResponse.Status {
        switch kind {
        case .tenantNotFound, .notGranted: .notFound
        case .alreadyGranted: .conflict
        // The server's database role is misconfigured: the operator's problem, said plainly.
        case .privileges: .internalServerError
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder.sorted.encode(["message": description])
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
