import NIOCore

/// One inbound frame of the protocol: a request line, or the news that a line was too long.
enum RequestFrame {
    case line(ByteBuffer)
    /// A line longer than the limit; its bytes were discarded up to its newline.
    case oversized
}

/// Splits the byte stream into newline-terminated lines of at most `maxLineBytes`. A longer line
/// becomes one `.oversized` frame and is skipped without buffering, so a client cannot make the
/// daemon hold more than `maxLineBytes` for it.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = RequestFrame
    let maxLineBytes: Int
    private var discarding = false

    init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        if let nl = view.firstIndex(of: UInt8(ascii: "\n")) {
            let length = nl - view.startIndex
            if discarding || length > maxLineBytes {
                buffer.moveReaderIndex(forwardBy: length + 1)
                if !discarding { context.fireChannelRead(wrapInboundOut(.oversized)) }
                discarding = false
                return .continue
            }
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") { line = line.getSlice(at: line.readerIndex, length: length - 1)! }
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
        if buffer.readableBytes > maxLineBytes {
            // No newline within the limit: report once, then drop bytes until the next newline.
            if !discarding { context.fireChannelRead(wrapInboundOut(.oversized)) }
            discarding = true
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)  // an unterminated last line is not a request
        return .needMoreData
    }
}
