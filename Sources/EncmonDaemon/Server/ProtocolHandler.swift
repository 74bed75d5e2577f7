import MonitorCore
import NIOCore

/// Answers requests of one client: parses each line, dispatches it to the process table, and
/// streams subscriptions. Runs on the daemon's single event loop, where the table lives, so it
/// reads the table directly. An error reply goes to this client only.
final class ProtocolHandler: ChannelInboundHandler {
    typealias InboundIn = RequestFrame
    typealias OutboundOut = ByteBuffer

    /// Bytes queued for a subscriber that does not read before it is cut off.
    static let maxQueuedBytes = 16 << 20

    private let table: NIOLoopBound<ProcessTable>
    private let socketPath: String
    private var subscriptions: [(process: TrackedProcess, token: Int)] = []
    private var queuedWhileUnwritable = 0

    init(table: NIOLoopBound<ProcessTable>, socketPath: String) {
        self.table = table
        self.socketPath = socketPath
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .oversized:
            send(DaemonReply.error(.oversized(id: nil, limit: DaemonRequest.maxLineBytes)), context: context)
        case .line(let buffer):
            guard buffer.readableBytes > 0 else { return }  // blank lines are keep-alives
            switch DaemonRequest.parse(buffer.readableBytesView) {
            case .failure(let e): send(DaemonReply.error(e), context: context)
            case .success(let request): handle(request, context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        for s in subscriptions { table.value.unsubscribe(s.process, token: s.token) }
        subscriptions.removeAll()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { queuedWhileUnwritable = 0 }
        context.fireChannelWritabilityChanged()
    }

    private func handle(_ request: DaemonRequest, context: ChannelHandlerContext) {
        let t = table.value
        switch request.operation {
        case .list:
            send(DaemonReply.ok(id: request.id, [("vms", .array(t.processes.map(DaemonReply.info)))]), context: context)
        case .snapshot, .subscribe:
            guard let selector = request.vm, let p = t.process(matching: selector) else {
                send(DaemonReply.error(.notFound(id: request.id, vm: request.vm ?? .name(""))), context: context)
                return
            }
            if request.operation == .snapshot {
                let status = DaemonReply.sourceStatus(p)
                send(DaemonReply.ok(id: request.id, [("vm", DaemonReply.info(p)),
                                                     ("summary", MonitorSummary.json(p.monitor.snapshot(), source: status))]),
                     context: context)
            } else {
                subscribe(p, id: request.id, context: context)
            }
        }
    }

    /// Sends the model state now, then every update. Both happen on this loop, so nothing is
    /// missed or sent twice between the two.
    private func subscribe(_ p: TrackedProcess, id: Int64, context: ChannelHandlerContext) {
        let model: [UInt8]
        do { model = try p.encodedModel() } catch {
            send(DaemonReply.error(.notFound(id: id, vm: .pid(p.identity.pid))), context: context)
            return
        }
        send(bytes: DaemonReply.subscribed(id: id, info: DaemonReply.info(p), model: model), context: context, flush: false)
        send(DaemonReply.live(id: id), context: context)
        if p.exited {
            send(DaemonReply.exited(id: id), context: context)
            return
        }
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let token = table.value.subscribe(p) { [weak self] update in
            guard let self else { return }
            let context = loopBoundContext.value
            switch update {
            case .events(let events):
                self.send(DaemonReply.events(id: id, lines: events.map(RecordingFormat.encode)), context: context)
                if self.queuedWhileUnwritable > Self.maxQueuedBytes {
                    self.send(DaemonReply.error(.tooSlow(id: id)), context: context)
                    context.close(promise: nil)
                }
            case .exited:
                self.send(DaemonReply.exited(id: id), context: context)
            }
        }
        subscriptions.append((p, token))
    }

    private func send(_ line: String, context: ChannelHandlerContext, flush: Bool = true) {
        send(bytes: Array(line.utf8), context: context, flush: flush)
    }

    private func send(bytes line: [UInt8], context: ChannelHandlerContext, flush: Bool = true) {
        var buffer = context.channel.allocator.buffer(capacity: line.count + 1)
        buffer.writeBytes(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        if !context.channel.isWritable { queuedWhileUnwritable += buffer.readableBytes }
        context.write(wrapOutboundOut(buffer), promise: nil)
        if flush { context.flush() }
    }
}

/// Replaces the protocol for a peer outside the socket's group: one error reply, then close a
/// little later (closing with the peer's request unread would reset the connection before the
/// peer reads the reply).
final class RefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let error: DaemonProtocolError

    init(_ error: DaemonProtocolError) { self.error = error }

    func channelActive(context: ChannelHandlerContext) {
        let line = DaemonReply.error(error) + "\n"
        var buffer = context.channel.allocator.buffer(capacity: line.utf8.count)
        buffer.writeString(line)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .seconds(2)) { bound.value.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
