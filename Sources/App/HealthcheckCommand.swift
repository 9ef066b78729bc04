import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// `inlet healthcheck`: exit 0 when this machine's `inlet serve` answers `/readyz` with 200.
///
/// For container healthchecks (Docker's `HEALTHCHECK`, compose, ECS), which otherwise need curl
/// or a shell in the image. It reads the same `INLET_PORT` and `INLET_TLS_CERT` as the server,
/// so one command fits every setup.
struct Healthcheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 if the local server is ready (GET /readyz answers 200), 1 otherwise.")

    @Option(help: "URL to check (default: http://127.0.0.1:$INLET_PORT/readyz, https when INLET_TLS_CERT is set).")
    var url: String?

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Int = 3

    func run() async throws {
        let target = url ?? Self.localURL()
        // The loopback certificate is not checked: it is issued for the public name, not for
        // 127.0.0.1, and the check sends nothing secret.
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        let outcome: Result<UInt, any Error>
        do {
            let response = try await client.execute(HTTPClientRequest(url: target), timeout: .seconds(Int64(timeout)))
            var body = try await response.body.collect(upTo: 4096)
            let text = body.readString(length: body.readableBytes) ?? ""
            print("\(target): \(response.status.code) \(text)")
            outcome = .success(response.status.code)
        } catch {
            outcome = .failure(error)
        }
        try? await client.shutdown()
        switch outcome {
        case .success(200): return
        case .success: throw ExitCode.failure
        case .failure(let error):
            print("\(target): \(error)")
            throw ExitCode.failure
        }
    }

    static func localURL() -> String {
        let port = ProcessInfo.processInfo.environment["INLET_PORT"].flatMap(Int.init) ?? 8080
        let tls = !(ProcessInfo.processInfo.environment["INLET_TLS_CERT"] ?? "").isEmpty
        return "\(tls ? "https" : "http")://127.0.0.1:\(port)/readyz"
    }
}
