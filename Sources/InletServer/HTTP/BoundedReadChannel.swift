import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1 channel with socket reads of at most 16 KiB.
///
/// Each connection buffers up to ten request parts ahead of its handler, and every part holds
/// on to the buffer it was read into. With NIO's default reads (up to 64 KiB) a few hundred
/// connections uploading large batches while the handlers wait for CPU held ~160 MB of such
/// buffers (`make bench`, phase e). Smaller reads bound that to connections × 160 KiB.
struct BoundedReadChannel: ServerChildChannel {
    let http: HTTP1Channel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        channel.setOption(
            ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 4096, maximum: 16384)
        ).flatMap {
            http.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await http.handle(value: value, logger: logger)
    }
}
