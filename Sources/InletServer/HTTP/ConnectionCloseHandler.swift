import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes the connection after a response that carries `Connection: close`.
///
/// Hummingbird 2.28's HTTP/1 channel (`HTTPChannelHandler.handleHTTP`) keeps a connection
/// open after any response unless the *request* asked to close it, and before the next request
/// it reads whatever is left of the current body and throws it away. For an ingest request
/// refused before its body was read (413 from `Content-Length`, a chunked body past the
/// limit, 401/415/503 from the headers) that means reading up to the whole body, or forever
/// for a chunked one, and a client that does not read until it has sent everything never sees
/// its answer. So such answers say `Connection: close` (``IngestError/closesConnection``), and
/// this handler, once the answer is written:
///
/// 1. flushes it and half-closes the connection (FIN): the client reads the whole answer, then
///    end of stream;
/// 2. reads and drops whatever the client still sends, until it closes its side or for at most
///    ``linger``, then closes. Closing at once, with the client's bytes unread, would make the
///    kernel answer with a reset, which can destroy the answer before the client reads it (the
///    "lingering close" of Apache and nginx).
///
/// It sits between Hummingbird's HTTP codec and its connection state handler
/// (`HTTP1Channel.Configuration.additionalChannelHandlers`).
final class ConnectionCloseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How long a closing connection keeps reading what the client still sends.
    static let linger: TimeAmount = .seconds(5)

    /// The response being written asked to close the connection.
    private var closeAfterResponse = false
    /// The answer is out and the output closed; input is dropped until the connection closes.
    private var lingering = false

    init() {}

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headerFields[.connection]?.lowercased() == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            context.write(data, promise: promise)
            if closeAfterResponse {
                closeAfterResponse = false
                startLingeringClose(context: context)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The rest of a refused request's body (or anything after it) is not for Hummingbird.
        if lingering { return }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server allows remote half-closure: the client closing its side is an event here,
        // not the end of the channel.
        if lingering, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func startLingeringClose(context: ChannelHandlerContext) {
        lingering = true
        context.flush()
        let channel = context.channel
        let closeOutput = context.eventLoop.makePromise(of: Void.self)
        closeOutput.futureResult.whenFailure { _ in channel.close(promise: nil) }
        context.close(mode: .output, promise: closeOutput)
        context.eventLoop.scheduleTask(in: Self.linger) { channel.close(promise: nil) }
    }
}
