import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// `inlet healthcheck`: exit 0 when this machine's `inlet serve` answers `/readyz` (or, with
/// `--live`, `/healthz`) with 200.
///
/// For container healthchecks (Docker's `HEALTHCHECK`, compose, ECS), which otherwise need curl
/// or a shell in the image. It reads the same `INLET_HOST`, `INLET_PORT` and `INLET_TLS_CERT` as
/// the server, so one command fits every setup.
///
/// Readiness (the default) fails while the database is unreachable. Where an unhealthy
/// container is replaced (ECS, Swarm), a database outage would then replace every task, so
/// there use `--live`, and leave readiness to the load balancer's target group.
struct Healthcheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 if the local server is ready (GET /readyz answers 200), 1 otherwise.")

    @Option(help: "URL to check (default: http://127.0.0.1:$INLET_PORT/readyz, https when INLET_TLS_CERT is set).")
    var url: String?

    @Flag(help: "Check that the process serves (/healthz) rather than that it can take traffic (/readyz).")
    var live = false

    @Option(help: "Seconds to wait for the whole answer.")
    var timeout: Int = 3

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be at least 1 second") }
    }

    func run() async throws {
        let target = url ?? Self.localURL(path: live ? "/healthz" : "/readyz", environment: ProcessInfo.processInfo.environment)
        // The loopback certificate is not checked: it is issued for the public name, not for
        // 127.0.0.1, and the check sends nothing secret.
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        let outcome: Result<UInt, any Error>
        do {
            // One deadline for the head and the body (the client's own ends with the head).
            outcome = .success(
                try await withThrowingTaskGroup(of: UInt.self) { group in
                    group.addTask {
                        let response = try await client.execute(HTTPClientRequest(url: target), timeout: .seconds(Int64(timeout)))
                        var body = try await response.body.collect(upTo: 4096)
                        print("\(target): \(response.status.code) \(body.readString(length: body.readableBytes) ?? "")")
                        return response.status.code
                    }
                    group.addTask {
                        try await Task.sleep(for: .seconds(timeout))
                        throw HealthcheckTimeout(seconds: timeout)
                    }
                    defer { group.cancelAll() }
                    return try await group.next() ?? 0
                })
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

    /// The server's own address as `inlet serve` reads it: loopback when it listens on every
    /// interface, else the interface it listens on.
    static func localURL(path: String, environment: [String: String]) -> String {
        let port = environment["INLET_PORT"].flatMap(Int.init) ?? 8080
        let scheme = (environment["INLET_TLS_CERT"] ?? "").isEmpty ? "http" : "https"
        var host = environment["INLET_HOST"] ?? ""
        if ["", "0.0.0.0", "::"].contains(host) { host = "127.0.0.1" }
        if host.contains(":") { host = "[\(host)]" }
        return "\(scheme)://\(host):\(port)\(path)"
    }
}

struct HealthcheckTimeout: Error, CustomStringConvertible {
    let seconds: Int
    var description: String { "no answer within \(seconds) s" }
}
