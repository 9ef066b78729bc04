import Foundation
import InletServer
import NIOCore
import InletTestSupport
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bad-input corpus (`Tests/corpus`, format in its README) replayed against one live server,
/// and a slow-loris client. Issue 6, item 2: every hostile body gets its documented status, the
/// server never answers 500 to it and stays up, and good messages sent alongside are all stored.
@Suite struct CorpusTests {
    @Test func everyCorpusCaseGetsItsDocumentedStatus() async throws {
        let cases = try CorpusCase.loadAll()
        #expect(cases.count >= 100, "the corpus has \(cases.count) cases")
        let harness = try IngestHarness("corpus")
        // One tenant per case, created before the server starts so that it loads them all: a case's
        // rows are counted by its tenant, whatever messageIds it uses.
        var tenants: [String: Credentials] = [:]
        let setup = try harness.connect()
        for corpusCase in cases {
            let (tenant, token) = try TenantStore(connection: setup).create(name: "corpus \(corpusCase.name)")
            tenants[corpusCase.name] = Credentials(id: tenant.id, token: token.value)
        }
        let databaseURL = harness.databaseURL
        let replayed = try await harness.run { [tenants] client in
            let db = try TestDatabase.connect(databaseURL)
            var replayed = 0
            for corpusCase in cases {
                replayed += 1
                let credentials = tenants[corpusCase.name]!
                let replay = { try await corpusCase.replay(on: client, credentials: credentials, db: db) }
                if let issue = corpusCase.knownIssue {
                    await withKnownIssue(Comment(rawValue: "case \(corpusCase.name): \(issue)")) { try await replay() }
                } else {
                    do { try await replay() } catch { Issue.record(error, "case \(corpusCase.name)") }
                }
                // Whatever the case did, the server must still be there for the next one.
                let health = try? await client.get("/healthz")
                #expect(health?.status == 200, "case \(corpusCase.name): /healthz after it answered \(String(describing: health?.status))")
                if health?.status != 200 { break }
            }
            return replayed
        }
        #expect(replayed == cases.count, "\(replayed) of \(cases.count) cases replayed")
    }

    /// Twenty connections that send their headers and then a byte of body every 200 ms; meanwhile
    /// ordinary requests must be served promptly, and a slow request that does finish is stored.
    @Test func slowLorisClientsDoNotStopOthers() async throws {
        var harness = try IngestHarness("slowloris")
        // Long enough for a slow client's pauses on a loaded machine, short enough to test.
        harness.configuration.idleTimeout = .seconds(5)
        let (tenant, token) = try harness.tenant()
        let message = Array(Messages.track(id: "slow-loris-finished").utf8)
        try await harness.run { client in
            let head = RawSocket.postHead(token: token, "Content-Length: \(message.count)\r\n")
            var sockets: [RawSocket] = []
            defer { for socket in sockets { socket.close() } }
            for _ in 0..<20 {
                let socket = try RawSocket(port: client.port)
                // The request line and headers, a few bytes at a time.
                for chunk in stride(from: 0, to: head.count, by: 40) {
                    try socket.send(Array(head[chunk..<min(chunk + 40, head.count)]))
                }
                sockets.append(socket)
            }
            // Half the body of each, one byte per round, while others use the server normally.
            let half = message.count / 2
            var slowest = Duration.zero
            for offset in 0..<min(half, 15) {
                for socket in sockets { try socket.send([message[offset]]) }
                let started = ContinuousClock.now
                let answer = try await client.post("/", json: Messages.track(), token: token)
                let health = try await client.get("/healthz")
                slowest = max(slowest, ContinuousClock.now - started)
                #expect(answer.status == 200, "a normal request during the slow-loris: \(answer.body)")
                #expect(health.status == 200)
                try await Task.sleep(for: .milliseconds(200))
            }
            // Stalled by the slow clients, a normal request would wait for the client's timeout
            // (30 s); the bound leaves room for a cold machine running the whole suite, where
            // 4.2 s was seen once (milliseconds when the machine is not loaded).
            #expect(slowest < .seconds(8), "a normal request took \(slowest) while slow clients were connected")

            // A slow client that finally finishes its body is answered and its message stored.
            let finisher = sockets[0]
            try finisher.send(Array(message[min(half, 15)...]))
            let response = try await finisher.readResponse(timeout: .seconds(10))
            #expect(response.hasPrefix("HTTP/1.1 200"), "the finished slow request: \(response.prefix(200))")

            // The others now stall mid-body: the idle timeout (5 s here) closes them.
            let stalled = sockets[1]
            let closed = await stalled.waitForClose(timeout: .seconds(12))
            #expect(closed, "a connection stalled mid-body for 12 s is still open")
        }
        #expect(try harness.connect().count("events.tracks", tenant: tenant, where: "id = 'slow-loris-finished'") == 1)
    }
}

/// A tenant created for one case.
struct Credentials: Sendable {
    let id: Int64
    let token: String
}

/// One case of `Tests/corpus`: `NAME.expect.json` and, unless it is generated, `NAME.body`.
struct CorpusCase: Sendable {
    let name: String
    let body: [UInt8]
    let status: Int
    let path: String
    /// "header" (default), "writeKey" or "none": only "header" adds the case tenant's Basic header.
    let auth: String
    /// nil: no Content-Type header at all.
    let contentType: String?
    let headers: [(String, String)]
    let accepted: Int?
    let duplicates: Int?
    let rejected: Int?
    let stored: Int
    let quarantined: Int
    let deletes: Int
    let rows: [(table: String, condition: String, count: Int)]
    let knownIssue: String?

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("corpus")

    static func loadAll() throws -> [CorpusCase] {
        let root = directory.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw CorpusError("no corpus at \(root)") }
        var names: [String] = []
        for case let relative as String in walker where relative.hasSuffix(".expect.json") {
            names.append(String(relative.dropLast(".expect.json".count)))
        }
        return try names.sorted().map { try CorpusCase(name: $0, root: root) }
    }

    init(name: String, root: String) throws {
        self.name = name
        let expectData = try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(name).expect.json"))
        guard let expect = try JSONSerialization.jsonObject(with: expectData) as? [String: Any] else {
            throw CorpusError("\(name).expect.json is not an object")
        }
        let known: Set<String> = [
            "note", "status", "path", "auth", "contentType", "headers", "encode", "generate", "accepted", "duplicates",
            "rejected", "stored", "quarantined", "deletes", "rows", "knownIssue",
        ]
        let unknown = Set(expect.keys).subtracting(known)
        guard unknown.isEmpty else { throw CorpusError("\(name).expect.json: unknown keys \(unknown.sorted())") }
        guard let status = expect["status"] as? Int else { throw CorpusError("\(name).expect.json: no status") }
        self.status = status
        path = expect["path"] as? String ?? "/"
        auth = expect["auth"] as? String ?? "header"
        guard ["header", "writeKey", "none"].contains(auth) else { throw CorpusError("\(name): unknown auth \(auth)") }
        if let value = expect["contentType"] {
            contentType = value as? String
        } else {
            contentType = "application/json"
        }
        headers = (expect["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
        accepted = expect["accepted"] as? Int
        duplicates = expect["duplicates"] as? Int
        rejected = expect["rejected"] as? Int
        stored = expect["stored"] as? Int ?? 0
        quarantined = expect["quarantined"] as? Int ?? 0
        deletes = expect["deletes"] as? Int ?? 0
        rows = (expect["rows"] as? [[String: Any]] ?? []).map {
            ($0["table"] as? String ?? "events.tracks", $0["where"] as? String ?? "true", $0["count"] as? Int ?? 1)
        }
        knownIssue = expect["knownIssue"] as? String

        var body: [UInt8]
        if let generator = expect["generate"] as? String {
            body = try Self.generate(generator)
        } else {
            body = try Array(Data(contentsOf: URL(fileURLWithPath: "\(root)/\(name).body")))
        }
        switch expect["encode"] as? String {
        case nil: break
        case "gzip": body = Messages.gzip(body)
        case let other?: throw CorpusError("\(name): unknown encode \(other)")
        }
        self.body = body
    }

    /// Bodies too large to commit.
    static func generate(_ name: String) throws -> [UInt8] {
        func track(_ index: Int) -> String {
            #"{"type":"track","messageId":"gen-\#(index)","userId":"u\#(index % 97)","event":"Generated","properties":{"i":\#(index)}}"#
        }
        switch name {
        case "batch-10000": return Array(Messages.batch((0..<10_000).map(track)).utf8)
        case "batch-10001": return Array(Messages.batch((0..<10_001).map(track)).utf8)
        case "array-10001-empty-objects": return Array(("[" + Array(repeating: "{}", count: 10_001).joined(separator: ",") + "]").utf8)
        case "message-id-100kb":
            return Array(#"{"type":"track","messageId":"\#(String(repeating: "m", count: 100 * 1024))","userId":"u","event":"e"}"#.utf8)
        case "message-id-100kb-among-good":
            let big = #"{"type":"track","messageId":"\#(String(repeating: "m", count: 100 * 1024))","userId":"u","event":"e"}"#
            return Array(Messages.array([track(1), big, track(2)]).utf8)
        case "body-9mib":
            return Array(("[" + track(0) + String(repeating: " ", count: 9 * 1024 * 1024) + "]").utf8)
        case "zip-bomb":
            // 64 MiB of whitespace inside a valid array compresses to about 64 KiB.
            return Messages.gzip([UInt8(ascii: "[")] + [UInt8](repeating: 32, count: 64 * 1024 * 1024) + [UInt8(ascii: "]")])
        default: throw CorpusError("unknown generator \(name)")
        }
    }

    /// Sends the case to the server and checks the answer and what was stored.
    /// POSTs `body` over a raw socket and reads the status line and body of the answer.
    static func rawPost(port: Int, path: String, body: [UInt8], token: String?) async throws -> IngestHarness.Client.Answer {
        let socket = try RawSocket(port: port)
        defer { socket.close() }
        try? socket.send(RawSocket.postHead(path, token: token, "Content-Length: \(body.count)\r\n") + body)  // the server may stop reading: its answer is what counts
        let response = try await socket.readResponse(timeout: .seconds(10))
        let status = Int(response.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? -1
        let text = response.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return IngestHarness.Client.Answer(status: status, headers: [:], body: text)
    }

    func replay(on client: IngestHarness.Client, credentials: Credentials, db: Connection) async throws {
        let basic = "Basic " + Data("\(credentials.token):".utf8).base64EncodedString()
        func substitute(_ text: String) -> String {
            text.replacingOccurrences(of: "$BASIC_SWAPPED", with: "Basic " + Data(":\(credentials.token)".utf8).base64EncodedString())
                .replacingOccurrences(of: "$BASIC_LOWER", with: "basic " + Data("\(credentials.token):".utf8).base64EncodedString())
                .replacingOccurrences(of: "$BASIC", with: basic)
                .replacingOccurrences(of: "$TOKEN", with: credentials.token)
        }
        let body = Self.replacing(Array("$TOKEN".utf8), with: Array(credentials.token.utf8), in: self.body)
        let answer: IngestHarness.Client.Answer
        do {
            answer = try await client.post(
                path, body, token: auth == "header" ? credentials.token : nil,
                headers: headers.map { ($0.0, substitute($0.1)) }, contentType: contentType)
        } catch let error as ChannelError where status == 413 && error == .ioOnClosedChannel {
            // A 413 is answered from the headers and the connection closed while the client may
            // still be sending the body; AsyncHTTPClient then sometimes fails its upload instead
            // of reporting the answer it read. Read that answer the way curl does: over a raw
            // socket that sends everything, then reads.
            answer = try await Self.rawPost(port: client.port, path: path, body: body, token: auth == "header" ? credentials.token : nil)
        }
        let shown = answer.body.count > 300 ? String(answer.body.prefix(300)) + "…" : answer.body

        #expect(answer.status < 500 || answer.status == 501, "case \(name): a server error for bad input: \(answer.status) \(shown)")
        #expect(answer.status == status, "case \(name): status \(answer.status), expected \(status): \(shown)")
        if answer.status == 200 {
            let json = answer.json
            let total = (json["accepted"] as? Int ?? -1) + (json["duplicates"] as? Int ?? -1)
                + ((json["rejected"] as? [Any])?.count ?? -1)
            #expect(total >= 0, "case \(name): a 200 without accepted/duplicates/rejected: \(shown)")
        } else {
            #expect(answer.json["message"] is String, "case \(name): an error without a JSON message: \(shown)")
        }
        if let accepted { #expect(answer.json["accepted"] as? Int == accepted, "case \(name): accepted, in \(shown)") }
        if let duplicates { #expect(answer.json["duplicates"] as? Int == duplicates, "case \(name): duplicates, in \(shown)") }
        if let rejected {
            #expect((answer.json["rejected"] as? [Any])?.count == rejected, "case \(name): rejected list, in \(shown)")
        }

        // A 2xx is sent after the commit, so the rows are there now.
        let tenant = credentials.id
        let storedRows = try db.query(
            """
            SELECT (SELECT count(*) FROM events.tracks WHERE tenant_id = $1) + (SELECT count(*) FROM events.identifies WHERE tenant_id = $1)
                 + (SELECT count(*) FROM events.pages WHERE tenant_id = $1) + (SELECT count(*) FROM events.screens WHERE tenant_id = $1)
                 + (SELECT count(*) FROM events.groups WHERE tenant_id = $1) + (SELECT count(*) FROM events.aliases WHERE tenant_id = $1)
            """, tenant
        ).first?.decode(Int.self, at: 0)
        #expect(storedRows == stored, "case \(name): \(String(describing: storedRows)) rows stored, expected \(stored)")
        let quarantinedRows = try db.count("inlet.rejected_messages", tenant: tenant)
        #expect(quarantinedRows == quarantined, "case \(name): \(quarantinedRows) rows quarantined, expected \(quarantined)")
        let deleteRows = try db.count("inlet.delete_requests", tenant: tenant)
        #expect(deleteRows == deletes, "case \(name): \(deleteRows) delete requests, expected \(deletes)")
        for row in rows {
            let found = try db.count(row.table, tenant: tenant, where: row.condition)
            #expect(found == row.count, "case \(name): \(found) rows of \(row.table) where \(row.condition), expected \(row.count)")
        }
    }

    static func replacing(_ pattern: [UInt8], with replacement: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= pattern.count else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if i + pattern.count <= bytes.count, bytes[i] == pattern[0], Array(bytes[i..<(i + pattern.count)]) == pattern {
                out.append(contentsOf: replacement)
                i += pattern.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }
}

struct CorpusError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A blocking TCP socket to 127.0.0.1, for clients that misbehave below HTTP.
final class RawSocket: @unchecked Sendable {
    let fd: Int32

    /// The head of a JSON POST to `path`, authenticated by `token` when given; `fields` are
    /// further header lines, each ending in CRLF (`Content-Length: 12\r\n`).
    static func postHead(_ path: String = "/", token: String?, _ fields: String) -> [UInt8] {
        let auth = token.map { "Authorization: Basic \(Data("\($0):".utf8).base64EncodedString())\r\n" } ?? ""
        return Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\(auth)\(fields)\r\n".utf8)
    }

    init(port: Int) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw CorpusError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw CorpusError("connect: errno \(errno)")
        }
    }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw CorpusError("send: errno \(errno)") }
            sent += n
        }
    }

    /// Bytes available now, [] when none, nil at end of stream (the peer closed) or on error.
    private func readAvailable() -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 0) > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer.prefix(n)) : nil
    }

    /// What the server sent until it had answered one response's headers, or `timeout` passed.
    func readResponse(timeout: Duration) async throws -> String {
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let bytes = readAvailable() else { break }
            received += bytes
            let text = String(decoding: received, as: UTF8.self)
            if let headerEnd = text.range(of: "\r\n\r\n") {
                let length = text[..<headerEnd.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: headerEnd.upperBound) >= length { return text }
            }
            if bytes.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// True when the server closes the connection within `timeout`.
    func waitForClose(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let bytes = readAvailable() else { return true }
            if bytes.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
        }
        return false
    }

    func close() { Glibc.close(fd) }
}
