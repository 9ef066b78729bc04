import AsyncHTTPClient
import InletGzip
import Foundation
import Hummingbird
import HummingbirdTesting
import InletServer
import InletTestSupport
import Logging
import NIOCore
import NIOHTTP1
import PostgresClient
import Testing

/// A real Inlet on a real port, over its own migrated database, for HTTP-level tests.
struct IngestHarness {
    let databaseURL: String
    var configuration: ServerConfiguration

    init(_ label: String, configure: (inout IngestConfiguration) -> Void = { _ in }) throws {
        databaseURL = try TestDatabase.createMigrated(label)
        configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, databaseURL: databaseURL, readinessInterval: .milliseconds(200))
        configuration.ingest.tenantRefreshInterval = .milliseconds(200)
        // Tests that need the periodic BI refresh turn it on; others refresh when they mean to.
        configuration.biRefreshInterval = nil
        configure(&configuration.ingest)
    }

    /// Creates a tenant and returns (id, token).
    func tenant(_ name: String = "tenant") throws -> (id: Int64, token: String) {
        let (tenant, token) = try TenantStore(connection: TestDatabase.connect(databaseURL)).create(name: name)
        return (tenant.id, token.value)
    }

    func connect() throws -> Connection { try TestDatabase.connect(databaseURL) }

    /// Runs `body` against the server, once tenants are loaded and the database is writable.
    func run<T: Sendable>(
        logger: Logger = Logger(label: "inlet-tests"), _ body: @escaping @Sendable (Client) async throws -> T
    ) async throws -> T {
        let app = try buildApplication(configuration: configuration, logger: logger)
        return try await app.test(.live) { testClient in
            let client = Client(port: try #require(testClient.port))
            try await client.waitUntilReady()
            return try await body(client)
        }
    }

    /// A minimal HTTP client over a real socket (AsyncHTTPClient), safe to use concurrently.
    struct Client: Sendable {
        let port: Int

        struct Answer: Sendable {
            let status: Int
            let headers: [String: String]
            let body: String

            /// The body as a JSON object.
            var json: [String: Any] {
                (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
            }
        }

        func post(
            _ path: String, _ body: [UInt8], token: String? = nil, headers: [(String, String)] = [],
            contentType: String? = "application/json"
        ) async throws -> Answer {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
            request.method = .POST
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            if let token {
                request.headers.add(name: "Authorization", value: "Basic " + Data("\(token):".utf8).base64EncodedString())
            }
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(body)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
            var fields: [String: String] = [:]
            for header in response.headers { fields[header.name.lowercased()] = header.value }
            return Answer(status: Int(response.status.code), headers: fields, body: String(buffer: bytes))
        }

        func post(_ path: String, json: String, token: String? = nil, headers: [(String, String)] = []) async throws -> Answer {
            try await post(path, Array(json.utf8), token: token, headers: headers)
        }

        func get(_ path: String, headers: [(String, String)] = []) async throws -> Answer {
            try await send(.GET, path, headers: headers)
        }

        /// Any request; redirects are not followed, so a 302 is seen as such.
        func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil) async throws -> Answer {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(Array(body.utf8))
            }
            let response = try await Self.noRedirects.execute(request, timeout: .seconds(10))
            let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
            var fields: [String: String] = [:]
            for header in response.headers { fields[header.name.lowercased()] = header.value }
            return Answer(status: Int(response.status.code), headers: fields, body: String(buffer: bytes))
        }

        static let noRedirects = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

        func waitUntilReady() async throws {
            for _ in 0..<100 {
                if try await get("/readyz").status == 200 { return }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}

/// Segment messages for tests.
enum Messages {
    static func track(id: String = UUID().uuidString, user: String = "user-1", event: String = "Signed Up", timestamp: String? = nil) -> String {
        let time = timestamp.map { #","timestamp":"\#($0)""# } ?? ""
        return #"{"type":"track","messageId":"\#(id)","userId":"\#(user)","event":"\#(event)","properties":{"plan":"pro","n":1}\#(time)}"#
    }

    static func identify(id: String = UUID().uuidString, user: String = "user-1", traits: String = #"{"email":"a@example.com"}"#) -> String {
        #"{"type":"identify","messageId":"\#(id)","userId":"\#(user)","traits":\#(traits)}"#
    }

    static func array(_ messages: [String]) -> String { "[" + messages.joined(separator: ",") + "]" }

    static func batch(_ messages: [String], extra: String = "") -> String {
        #"{"batch":["# + messages.joined(separator: ",") + "]" + extra + "}"
    }

    static func gzip(_ bytes: [UInt8]) -> [UInt8] { Gzip.compress(bytes) }
}

extension Connection {
    /// Rows of `events.<table>` for a tenant.
    func count(_ table: String, tenant: Int64, where condition: String = "true") throws -> Int {
        try query("SELECT count(*) FROM \(table) WHERE tenant_id = $1 AND \(condition)", tenant).first?.decode(Int.self, at: 0) ?? -1
    }
}

/// Polls `check` until it holds or `timeout` passes; returns its last answer. For effects that
/// follow after a background interval (token reloads, settings writes), without a fixed sleep
/// that a loaded machine could outlast.
func eventually(_ timeout: Duration = .seconds(5), _ check: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await check() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await check()
}
