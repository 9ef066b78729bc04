import AsyncHTTPClient
import Foundation
import HummingbirdTesting
import InletServer
import InletTestSupport
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import PostgresClient
import Testing

/// `inlet serve` speaking TLS itself (`INLET_TLS_CERT`, `INLET_TLS_KEY`): real certificates
/// made by openssl, clients that verify them, and renewals picked up without a restart.
@Suite struct TLSTests {
    /// A self-signed certificate and its key for `localhost` and 127.0.0.1, written by openssl as
    /// `name.crt` and `name.key` in `directory`. `algorithm` is `ec` or `rsa` (both kinds of
    /// key that certificate authorities issue).
    static func selfSigned(_ name: String, in directory: URL, algorithm: String = "ec", days: Int = 2) throws -> (certificate: URL, key: URL) {
        let certificate = directory.appending(path: "\(name).crt")
        let key = directory.appending(path: "\(name).key")
        let keyOptions = algorithm == "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] : ["-newkey", "rsa:2048"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments =
            ["req", "-x509"] + keyOptions + [
                "-nodes", "-keyout", key.path, "-out", certificate.path, "-days", String(days), "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "openssl req failed")
        return (certificate, key)
    }

    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appending(path: "inlet-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Replaces `destination` the way renewal tools do: a new file renamed over the old one.
    static func install(_ source: URL, as destination: URL) throws {
        let staged = destination.appendingPathExtension("new")
        try? FileManager.default.removeItem(at: staged)
        try FileManager.default.copyItem(at: source, to: staged)
        try #require(rename(staged.path, destination.path) == 0, "rename: errno \(errno)")
    }

    /// Runs `body` with a client that trusts only `certificate` and verifies the server's name
    /// (`localhost`).
    static func withClient<T>(trusting certificate: URL, _ body: (HTTPClient) async throws -> T) async throws -> T {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificate.path))
        tls.certificateVerification = .fullVerification
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        do {
            let value = try await body(client)
            try await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Runs `harness`'s server and `body` with its port and one client per certificate in
    /// `trusting` (each trusting only that one).
    static func withServer(
        _ harness: IngestHarness, trusting certificates: [URL], _ body: @escaping @Sendable (Int, [HTTPClient]) async throws -> Void
    ) async throws {
        var clients: [HTTPClient] = []
        defer {
            // No syncShutdown in async code: the clients shut down on a task of their own.
            let shutdown = clients
            Task { for client in shutdown { try? await client.shutdown() } }
        }
        for certificate in certificates {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificate.path))
            tls.certificateVerification = .fullVerification
            clients.append(HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls)))
        }
        let app = try buildApplication(configuration: harness.configuration, logger: Logger(label: "inlet-tests"))
        let ready = clients
        try await app.test(.live) { testClient in
            try await body(try #require(testClient.port), ready)
        }
    }

    /// A harness whose server serves `certificate` and `key`.
    static func harness(_ label: String, _ files: TLSFiles) throws -> IngestHarness {
        var harness = try IngestHarness(label)
        harness.configuration.tls = files
        return harness
    }

    /// Posts `body` to `https://localhost:port/`; the status, or the error when TLS fails.
    /// AsyncHTTPClient retries a failed handshake until the deadline, so a request expected to
    /// fail is given a short one (`refused`).
    static func post(_ client: HTTPClient, port: Int, token: String, _ body: String, refused: Bool = false) async -> Result<Int, any Error> {
        var request = HTTPClientRequest(url: "https://localhost:\(port)/")
        request.method = .POST
        // A new connection, and so a new handshake, for every request: a kept-alive one would
        // go on with the certificate it began with, whatever the server serves now.
        request.headers.add(name: "Connection", value: "close")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(token):".utf8).base64EncodedString())
        request.body = .bytes(Array(body.utf8))
        do {
            let response = try await client.execute(request, timeout: .seconds(refused ? 2 : 10))
            _ = try await response.body.collect(upTo: 1 << 20)
            return .success(Int(response.status.code))
        } catch {
            return .failure(error)
        }
    }

    static func get(_ client: HTTPClient, port: Int, _ path: String) async throws -> (status: Int, body: String) {
        let response = try await client.execute(HTTPClientRequest(url: "https://localhost:\(port)\(path)"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    /// The served certificate's notAfter as openssl reads it, in seconds since 1970.
    static func notAfter(_ certificate: URL) throws -> Int {
        Int(try #require(NIOSSLCertificate.fromPEMFile(certificate.path).first).notValidAfter)
    }

    @Test func aVerifyingClientPostsOverTLSAndAPlainRequestIsRefused() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pair = try Self.selfSigned("server", in: directory)
        let harness = try Self.harness("tls_serve", TLSFiles(certificatePath: pair.certificate.path, keyPath: pair.key.path))
        let (tenant, token) = try harness.tenant()
        try await Self.withServer(harness, trusting: [pair.certificate]) { port, clients in
            let client = clients[0]
            #expect(try await eventually(.seconds(10)) { try await Self.get(client, port: port, "/readyz").status == 200 })

            let id = UUID().uuidString
            let stored = await Self.post(client, port: port, token: token, Messages.track(id: id))
            #expect((try? stored.get()) == 200, "\(stored)")
            #expect(try harness.connect().count("events.tracks", tenant: tenant, where: "id = '\(id)'") == 1)

            // Plain HTTP to the TLS port: the connection is closed, no HTTP answer, nothing stored.
            let plain = try RawSocket(port: port)
            defer { plain.close() }
            let body = Array(Messages.track().utf8)
            try plain.send(RawSocket.postHead(token: token, "Content-Length: \(body.count)\r\n") + body)
            #expect(await plain.waitForClose(timeout: .seconds(10)))
            #expect(try harness.connect().count("events.tracks", tenant: tenant) == 1)
            // ... and the server goes on serving TLS.
            #expect((try? await Self.post(client, port: port, token: token, Messages.track()).get()) == 200)

            // The expiry that operators alert on.
            let metrics = try await Self.get(client, port: port, "/metrics").body
            let expiry = try Self.notAfter(pair.certificate)
            #expect(metrics.contains("inlet_tls_certificate_expiry_timestamp_seconds \(expiry).0"), "\(expiry)")
            #expect(metrics.contains("inlet_ready 1"))
        }
    }

    @Test func aRenewedCertificateIsServedWithoutARestartAndAHalfWrittenOneIsNot() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try Self.selfSigned("first", in: directory)
        let renewed = try Self.selfSigned("renewed", in: directory, algorithm: "rsa", days: 30)
        let served = (certificate: directory.appending(path: "tls.crt"), key: directory.appending(path: "tls.key"))
        try Self.install(first.certificate, as: served.certificate)
        try Self.install(first.key, as: served.key)

        let harness = try Self.harness(
            "tls_reload",
            TLSFiles(certificatePath: served.certificate.path, keyPath: served.key.path, reloadInterval: .milliseconds(200)))
        let (_, token) = try harness.tenant()
        try await Self.withServer(harness, trusting: [first.certificate, renewed.certificate]) { port, clients in
            let (trustsFirst, trustsRenewed) = (clients[0], clients[1])
            #expect(try await eventually(.seconds(10)) { try await Self.get(trustsFirst, port: port, "/readyz").status == 200 })
            #expect(try await Self.get(trustsFirst, port: port, "/readyz").status == 200)
            #expect((try? await Self.post(trustsRenewed, port: port, token: token, Messages.track(), refused: true).get()) == nil)

            // The certificate is renewed but its key is not written yet: the pair does not fit,
            // so the first one is still served (over several reload intervals).
            try Self.install(renewed.certificate, as: served.certificate)
            try await Task.sleep(for: .seconds(1))
            #expect((try? await Self.post(trustsFirst, port: port, token: token, Messages.track()).get()) == 200)

            // With its key, new connections get the renewed certificate.
            try Self.install(renewed.key, as: served.key)
            #expect(
                try await eventually(.seconds(10)) {
                    (try? await Self.post(trustsRenewed, port: port, token: token, Messages.track(), refused: true).get()) == 200
                })
            #expect((try? await Self.post(trustsFirst, port: port, token: token, Messages.track(), refused: true).get()) == nil)
            let metrics = try await Self.get(trustsRenewed, port: port, "/metrics").body
            #expect(metrics.contains("inlet_tls_certificate_expiry_timestamp_seconds \(try Self.notAfter(renewed.certificate)).0"))
        }
    }

    /// What a raw TLS client gets when it sends `request` over `openssl s_client` (extra
    /// `options`, e.g. a protocol version), and whether s_client's handshake succeeded.
    static func openssl(port: Int, _ options: [String], sending request: String) throws -> (handshake: Bool, received: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost", "-quiet", "-no_ign_eof"] + options
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(request.utf8))
        // s_client exits when the server closes the connection; a server that does not is
        // given 10 s.
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate() }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (!text.contains("handshake failure") && !text.contains("alert protocol version") && !text.contains(":error:"), text)
    }

    /// An early answer (413 from the headers, `Connection: close`) reaches a TLS client whole,
    /// and a client that offers only TLS 1.1 is refused at the handshake.
    @Test func anEarlyRefusalArrivesOverTLSAndOldProtocolsAreRefused() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pair = try Self.selfSigned("server", in: directory)
        var harness = try Self.harness("tls_early", TLSFiles(certificatePath: pair.certificate.path, keyPath: pair.key.path))
        harness.configuration.ingest.maxBodyBytes = 10_000
        let (_, token) = try harness.tenant()
        try await Self.withServer(harness, trusting: [pair.certificate]) { port, clients in
            #expect(try await eventually(.seconds(10)) { try await Self.get(clients[0], port: port, "/readyz").status == 200 })
            let auth = Data("\(token):".utf8).base64EncodedString()
            let head = "POST /v1/batch HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic \(auth)\r\nContent-Type: application/json\r\nContent-Length: 10001\r\n\r\n"
            let refused = try Self.openssl(port: port, [], sending: head)
            #expect(refused.received.contains("HTTP/1.1 413"), "\(refused.received)")

            let old = try Self.openssl(port: port, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], sending: "GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            // The server's alert 70, not the client's own refusal.
            #expect(!old.handshake && old.received.contains("alert protocol version"), "\(old.received)")
            let current = try Self.openssl(port: port, ["-tls1_2"], sending: "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            #expect(current.received.contains("HTTP/1.1 200"), "\(current.received)")
        }
    }

    /// The binary: SIGHUP reloads at once (the periodic check is an hour away here), and
    /// `inlet healthcheck` talks TLS when the server does.
    @Test func sighupReloadsTheCertificateAndHealthcheckSpeaksTLS() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try Self.selfSigned("first", in: directory)
        let renewed = try Self.selfSigned("renewed", in: directory)
        let served = (certificate: directory.appending(path: "tls.crt"), key: directory.appending(path: "tls.key"))
        try Self.install(first.certificate, as: served.certificate)
        try Self.install(first.key, as: served.key)
        let harness = try IngestHarness("tls_sighup")
        let (_, token) = try harness.tenant()
        let port = LifecycleTests.freePort()
        let environment = [
            "DATABASE_URL": harness.databaseURL, "INLET_HOST": "127.0.0.1", "INLET_PORT": String(port),
            "INLET_TLS_CERT": served.certificate.path, "INLET_TLS_KEY": served.key.path,
            "INLET_TLS_RELOAD_INTERVAL_MS": "3600000",
        ]
        let server = try BuiltProducts.start("inlet", ["serve"], environment: environment)
        var stopped = false
        defer { if !stopped { server.signal(SIGKILL) } }
        #expect(
            try await eventually(.seconds(20)) {
                try BuiltProducts.run("inlet", ["healthcheck"], environment: environment).status == 0
            })
        try await Self.withClient(trusting: renewed.certificate) { trustsRenewed in
            #expect((try? await Self.post(trustsRenewed, port: port, token: token, Messages.track(), refused: true).get()) == nil)

            try Self.install(renewed.certificate, as: served.certificate)
            try Self.install(renewed.key, as: served.key)
            server.signal(SIGHUP)
            #expect(
                try await eventually(.seconds(10)) {
                    (try? await Self.post(trustsRenewed, port: port, token: token, Messages.track()).get()) == 200
                })
            // Plain HTTP to the TLS port is not an answer: the check fails, clearly.
            let plain = try BuiltProducts.run("inlet", ["healthcheck", "--url", "http://127.0.0.1:\(port)/readyz"], environment: environment)
            #expect(plain.status == 1, "\(plain.output)")
        }

        server.signal(SIGTERM)
        let outcome = BuiltProducts.wait(server)
        stopped = true
        #expect(outcome.status == 0, "\(outcome.error)")
        #expect(outcome.output.contains("TLS certificate reloaded") || outcome.error.contains("TLS certificate reloaded"))
        // A stopped server fails the check.
        #expect(try BuiltProducts.run("inlet", ["healthcheck", "--timeout", "2"], environment: environment).status == 1)
    }

    /// Without TLS, SIGHUP (a `systemctl reload`, a renewal hook) must not end the server: its
    /// default action would, undrained.
    @Test func sighupDoesNotStopAPlainHTTPServer() async throws {
        let harness = try IngestHarness("tls_sighup_plain")
        let (_, token) = try harness.tenant()
        let port = LifecycleTests.freePort()
        let environment = ["DATABASE_URL": harness.databaseURL, "INLET_HOST": "127.0.0.1", "INLET_PORT": String(port)]
        let server = try BuiltProducts.start("inlet", ["serve"], environment: environment)
        var stopped = false
        defer { if !stopped { server.signal(SIGKILL) } }
        let client = IngestHarness.Client(port: port)
        #expect(try await eventually(.seconds(20)) { (try? await client.get("/readyz"))?.status == 200 })
        server.signal(SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.isRunning)
        #expect(try await client.post("/", json: Messages.track(), token: token).status == 200)
        #expect(try BuiltProducts.run("inlet", ["healthcheck", "--live"], environment: environment).status == 0)
        server.signal(SIGTERM)
        let outcome = BuiltProducts.wait(server)
        stopped = true
        #expect(outcome.status == 0, "\(outcome.error)")
        #expect((outcome.output + outcome.error).contains("no TLS certificate to reload"))
    }

    /// `inlet serve` does not start on a TLS setup it cannot use, and says why.
    @Test func aTLSSetupThatCannotWorkStopsTheServerAtStart() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let one = try Self.selfSigned("one", in: directory)
        let other = try Self.selfSigned("other", in: directory)
        let url = try TestDatabase.createMigrated("tls_refused")
        let base = ["DATABASE_URL": url, "INLET_HOST": "127.0.0.1", "INLET_PORT": String(LifecycleTests.freePort())]
        let cases: [(String, [String: String], String)] = [
            ("certificate without key", ["INLET_TLS_CERT": one.certificate.path], "INLET_TLS_KEY is not"),
            ("key without certificate", ["INLET_TLS_KEY": one.key.path], "INLET_TLS_CERT is not"),
            ("a key of another certificate", ["INLET_TLS_CERT": one.certificate.path, "INLET_TLS_KEY": other.key.path], "does the key belong to the certificate"),
            ("no such file", ["INLET_TLS_CERT": directory.appending(path: "missing.crt").path, "INLET_TLS_KEY": one.key.path], "cannot read"),
            ("a key where the certificate goes", ["INLET_TLS_CERT": one.key.path, "INLET_TLS_KEY": one.key.path], "not a PEM certificate"),
        ]
        for (name, tls, message) in cases {
            let server = try BuiltProducts.start("inlet", ["serve"], environment: base.merging(tls) { _, new in new })
            // A server that starts after all would serve until killed: give it 20 s.
            let deadline = ContinuousClock.now + .seconds(20)
            while server.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if server.isRunning { server.signal(SIGKILL) }
            let outcome = BuiltProducts.wait(server)
            #expect(outcome.status != 0, "\(name)")
            #expect(outcome.error.contains(message), "\(name): \(outcome.error)")
        }
    }
}
