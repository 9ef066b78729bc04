import Foundation
import HummingbirdTesting
import InletServer
import InletTestSupport
import Logging
import PostgresClient
import Testing

/// Behaviour across process and database lifecycles: SIGTERM with requests in flight, and a
/// PostgreSQL restart in the middle of a stream.
@Suite struct LifecycleTests {
    /// The repository root, for scripts/localpg.sh.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func freePort() -> Int {
        // Bind to port 0, read the port the kernel chose, release it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs scripts/localpg.sh and returns what it printed.
    ///
    /// Through posix_spawn and waitpid rather than Foundation's Process: the PostgreSQL server
    /// the script starts outlives it, and Process on Linux can wait for that server too.
    static func localpg(_ arguments: [String]) throws -> String {
        let output = FileManager.default.temporaryDirectory.appending(path: "localpg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let script = repository.appending(path: "scripts/localpg.sh").path
        let command = ([script] + arguments).map { "'\($0)'" }.joined(separator: " ") + " > '\(output.path)'"
        var pid: pid_t = 0
        let words: [String] = ["/bin/sh", "-c", command]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else {
            throw PostgresError(kind: .connection, message: "cannot run localpg.sh")
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return try String(contentsOf: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func sigtermCommitsAndAnswersEverythingInFlightThenExits0() async throws {
        let harness = try IngestHarness("sigterm")
        let (tenant, token) = try harness.tenant()
        let port = Self.freePort()
        let server = try BuiltProducts.start(
            "inlet", ["serve"],
            environment: ["DATABASE_URL": harness.databaseURL, "INLET_HOST": "127.0.0.1", "INLET_PORT": String(port)])
        let client = IngestHarness.Client(port: port)
        for _ in 0..<100 where (try? await client.get("/readyz"))?.status != 200 {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await client.post("/", json: Messages.track(), token: token).status == 200)

        let lock = try harness.connect()
        try lock.execute("BEGIN; LOCK TABLE events.tracks IN ACCESS EXCLUSIVE MODE")
        let bodies = (0..<5).map { _ in Messages.array((0..<20).map { _ in Messages.track() }) }
        let requests = bodies.map { body in Task { try await client.post("/", json: body, token: token) } }
        try await Task.sleep(for: .milliseconds(500))
        server.signal(SIGTERM)
        try await Task.sleep(for: .milliseconds(500))
        try lock.execute("COMMIT")

        for request in requests {
            let answer = try await request.value
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.json["accepted"] as? Int == 20)
        }
        let outcome = BuiltProducts.wait(server)
        #expect(outcome.status == 0, "\(outcome.error)")
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 101)
        // The server's own log handler writes StreamLogHandler's lines: time, level, label,
        // metadata sorted, source, message.
        let ready = outcome.error.split(separator: "\n").first { $0.hasSuffix(" info inlet: state=ready [InletServer] readiness changed") }
        #expect(ready.map { $0.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} .*/) != nil } == true, "\(outcome.error)")
    }

    /// After many small requests, each writer transaction having taken several at once, SIGTERM
    /// still ends the server at once. (The writers waited on a semaphore signalled per request:
    /// the signals their takes did not consume piled up, and the writers woke for each, lingered,
    /// found nothing; the shutdown waited for the pile, here ~10 s at a 50 ms linger.)
    @Test func sigtermAfterAFloodOfSmallRequestsExitsPromptly() async throws {
        let harness = try IngestHarness("flood-exit")
        let (tenant, token) = try harness.tenant()
        let port = Self.freePort()
        let server = try BuiltProducts.start(
            "inlet", ["serve"],
            environment: [
                "DATABASE_URL": harness.databaseURL, "INLET_HOST": "127.0.0.1", "INLET_PORT": String(port),
                "INLET_BATCH_LINGER_MS": "50",
            ])
        let client = IngestHarness.Client(port: port)
        for _ in 0..<100 where (try? await client.get("/readyz"))?.status != 200 {
            try await Task.sleep(for: .milliseconds(100))
        }
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<40 {
                group.addTask {
                    var statuses: [Int] = []
                    for _ in 0..<10 { statuses.append(try await client.post("/", json: Messages.track(), token: token).status) }
                    return statuses
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(statuses.count == 400 && statuses.allSatisfy { $0 == 200 })
        let signalled = ContinuousClock.now
        server.signal(SIGTERM)
        let outcome = BuiltProducts.wait(server)
        let took = ContinuousClock.now - signalled
        #expect(outcome.status == 0, "\(outcome.error)")
        #expect(took < .seconds(4), "exited \(took) after SIGTERM")
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 400)
    }

    @Test func aPostgresRestartIsAnswered503ThenRecoveredWithoutRestartingInlet() async throws {
        let cluster = "restart-\(UUID().uuidString.prefix(8).lowercased())"
        let serverURL = try Self.localpg(["start", cluster])
        defer { _ = try? Self.localpg(["destroy", cluster]) }
        let url = serverURL  // the cluster's `inlet` database
        try TestDatabase.migrate(url)
        let (tenant, token) = try {
            let (tenant, token) = try TenantStore(connection: TestDatabase.connect(url)).create(name: "restart")
            return (tenant.id, token.value)
        }()
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, databaseURL: url, readinessInterval: .milliseconds(200))
        configuration.ingest.tenantRefreshInterval = .milliseconds(200)
        configuration.ingest.transactionTimeout = .seconds(3)

        let app = try buildApplication(configuration: configuration, logger: .init(label: "inlet-tests"))
        let (acknowledged, statuses) = try await app.test(.live) { testClient in
            let client = IngestHarness.Client(port: try #require(testClient.port))
            try await client.waitUntilReady()
            var acknowledged: [String] = []
            var statuses: [Int] = []
            let deadline = ContinuousClock.now + .seconds(20)
            var restarted = false
            var sawRecovery = false
            while ContinuousClock.now < deadline && !sawRecovery {
                let ids = (0..<10).map { _ in UUID().uuidString }
                let answer = try await client.post("/", json: Messages.array(ids.map { Messages.track(id: $0) }), token: token)
                statuses.append(answer.status)
                if answer.status == 200 {
                    acknowledged += ids
                    if restarted && statuses.contains(503) { sawRecovery = true }
                } else {
                    #expect(answer.status == 503)
                    #expect(answer.headers["retry-after"] != nil)
                }
                if statuses.count == 5 && !restarted {
                    _ = try Self.localpg(["stop", cluster])
                    restarted = true
                    // Requests while it is down are refused quickly, not after a long hang.
                    let started = ContinuousClock.now
                    let down = try await client.post("/", json: Messages.track(), token: token)
                    #expect(down.status == 503)
                    #expect(ContinuousClock.now - started < .seconds(3))
                    statuses.append(down.status)
                    #expect(try await client.get("/readyz").status == 503)
                    _ = try Self.localpg(["start", cluster])
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            return (acknowledged, statuses)
        }
        #expect(statuses.contains(503))
        #expect(statuses.last == 200)
        let stored = try TestDatabase.connect(url).query(
            "SELECT count(*) FROM events.tracks WHERE tenant_id = $1 AND id = ANY($2::text[])", tenant,
            "{" + acknowledged.joined(separator: ",") + "}"
        ).first?.decode(Int.self, at: 0)
        #expect(stored == acknowledged.count)
    }
}
