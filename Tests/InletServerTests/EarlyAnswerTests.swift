import Foundation
import InletServer
import Testing

/// Answers decided before the body is read (413 from Content-Length, a chunked body past the
/// limit, 401 from the header) reach the client at once, and then the connection is closed
/// instead of Hummingbird reading the rest of a body nobody wants. Over raw sockets, because
/// what matters is what the client sees on the wire: the answer, then end of stream.
@Suite struct EarlyAnswerTests {
    func head(_ token: String, _ fields: String) -> [UInt8] { RawSocket.postHead("/v1/batch", token: token, fields) }

    @Test func aDeclaredLengthOverTheLimitIs413FromTheHeadersThenClosed() async throws {
        let harness = try IngestHarness("early_413")  // the default 8 MiB limit
        let (_, token) = try harness.tenant()
        try await harness.run { client in
            let socket = try RawSocket(port: client.port)
            defer { socket.close() }
            // 20 MB announced, a few bytes sent: the answer must not wait for the rest.
            try socket.send(head(token, "Content-Length: 20000000\r\n") + Array(#"{"batch":["#.utf8))
            let response = try await socket.readResponse(timeout: .seconds(10))
            #expect(response.hasPrefix("HTTP/1.1 413"), "\(response.prefix(200))")
            #expect(response.lowercased().contains("connection: close"))
            #expect(await socket.waitForClose(timeout: .seconds(4)), "the connection stayed open after the 413")
            #expect(try await client.get("/healthz").status == 200)
        }
    }

    @Test func aClientSendingAll20MBGetsThe413() async throws {
        let harness = try IngestHarness("early_413_whole")
        let (_, token) = try harness.tenant()
        try await harness.run { client in
            let socket = try RawSocket(port: client.port)
            defer { socket.close() }
            // A client that only reads once it has sent everything: the server must keep
            // reading (and dropping) the body after answering, or the client blocks forever.
            let body = [UInt8](repeating: 0x20, count: 20_000_000)
            // Bounded, so that a server that stops reading fails the test instead of hanging it.
            socket.setSendTimeout(seconds: 10)
            try socket.send(head(token, "Content-Length: \(body.count)\r\n") + body)
            let response = try await socket.readResponse(timeout: .seconds(10))
            #expect(response.hasPrefix("HTTP/1.1 413"), "\(response.prefix(200))")
            #expect(await socket.waitForClose(timeout: .seconds(4)))
        }
    }

    @Test func aChunkedBodyPastTheLimitIs413AsSoonAsItPassesThenClosed() async throws {
        let harness = try IngestHarness("early_413_chunked") { $0.maxBodyBytes = 64 * 1024 }
        let (_, token) = try harness.tenant()
        try await harness.run { client in
            let socket = try RawSocket(port: client.port)
            defer { socket.close() }
            // Five 16 KiB chunks (80 KiB) and no final chunk: the body never ends.
            var bytes = head(token, "Transfer-Encoding: chunked\r\n")
            let chunk = [UInt8](repeating: 0x20, count: 16 * 1024)
            for _ in 0..<5 { bytes += Array((String(chunk.count, radix: 16) + "\r\n").utf8) + chunk + Array("\r\n".utf8) }
            try socket.send(bytes)
            let response = try await socket.readResponse(timeout: .seconds(10))
            #expect(response.hasPrefix("HTTP/1.1 413"), "\(response.prefix(200))")
            #expect(await socket.waitForClose(timeout: .seconds(4)), "the connection stayed open after the 413")
        }
    }

    @Test func aBadHeaderTokenIs401BeforeTheBodyThenClosed() async throws {
        let harness = try IngestHarness("early_401")
        try await harness.run { client in
            let socket = try RawSocket(port: client.port)
            defer { socket.close() }
            try socket.send(head("not-a-token", "Content-Length: 1000000\r\n") + Array("[".utf8))
            let response = try await socket.readResponse(timeout: .seconds(10))
            #expect(response.hasPrefix("HTTP/1.1 401"), "\(response.prefix(200))")
            #expect(await socket.waitForClose(timeout: .seconds(4)), "the connection stayed open after the 401")
        }
    }
}

extension RawSocket {
    /// A blocking `send` gives up after this long (SO_SNDTIMEO).
    func setSendTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}
