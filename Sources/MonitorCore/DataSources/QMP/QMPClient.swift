
/// A synchronous QMP client: reads the greeting, leaves capabilities negotiation, then runs one
/// command at a time. Replies are matched by `id`; events that arrive before a reply are queued
/// for `nextEvent`. Every wait has a deadline and also ends when `cancellation` fires, so
/// nothing blocks forever.
///
/// Used from one thread (the producer's); not Sendable.
public final class QMPClient {
    public static let defaultMaxLineBytes = 1 << 20
    static let greetingName = "the QMP greeting"

    public private(set) var version: QMPVersion?
    private let socket: QMPSocket
    private var framer: QMPLineFramer
    private var nextID: UInt64 = 1
    private var pendingEvents: [QMPEvent] = []
    private var pendingHead = 0
    private let cancellation: CancellationSignal
    private var readBuffer = [UInt8](repeating: 0, count: 65_536)
    public let timeout: Double

    /// Connects to `path` and completes the handshake within `timeout` seconds.
    public convenience init(path: String, timeout: Double = 5, maxLineBytes: Int = QMPClient.defaultMaxLineBytes,
                            cancellation: CancellationSignal) throws(QMPError) {
        try self.init(socket: QMPSocket.connecting(to: path), timeout: timeout, maxLineBytes: maxLineBytes,
                      cancellation: cancellation)
    }

    /// Takes ownership of a connected stream descriptor and completes the handshake.
    public convenience init(adopting fd: Int32, timeout: Double = 5, maxLineBytes: Int = QMPClient.defaultMaxLineBytes,
                            cancellation: CancellationSignal) throws(QMPError) {
        try self.init(socket: QMPSocket(adopting: fd), timeout: timeout, maxLineBytes: maxLineBytes,
                      cancellation: cancellation)
    }

    private init(socket: QMPSocket, timeout: Double, maxLineBytes: Int, cancellation: CancellationSignal) throws(QMPError) {
        self.socket = socket
        self.timeout = timeout
        framer = QMPLineFramer(maxLineBytes: maxLineBytes)
        self.cancellation = cancellation
        let deadline = SourceClock.monotonicNow() + timeout
        guard case .greeting(let v) = try nextMessage(deadline: deadline, waitingFor: Self.greetingName) else {
            throw .notQMP(excerpt: "first message was not {\"QMP\": ...}")
        }
        version = v
        _ = try execute("qmp_capabilities")
    }

    public func close() { socket.disconnect() }

    /// Runs `command` and returns its `return` value; QEMU's error reply becomes `.commandFailed`.
    public func execute(_ command: String, arguments: QMPJSON? = nil) throws(QMPError) -> QMPJSON {
        let id = nextID
        nextID += 1
        try socket.writeAll(encodeCommand(command, arguments: arguments, id: id))
        let deadline = SourceClock.monotonicNow() + timeout
        while true {
            switch try nextMessage(deadline: deadline, waitingFor: command) {
            case .event(let e):
                queue(e)
            case .success(let replyID, let result):
                if replyID == nil || replyID?.uint64 == id { return result }
            case .failure(let replyID, let errorClass, let description):
                // QEMU answers a line it could not parse without an id.
                if replyID == nil || replyID?.uint64 == id {
                    throw .commandFailed(command: command, errorClass: errorClass, description: description)
                }
            case .greeting:
                throw .malformed(reason: "second greeting", excerpt: command)
            }
            // A reply with another id belongs to a command that timed out earlier: dropped.
        }
    }

    /// Events dropped because nobody read them while `maxPendingEvents` were queued.
    public private(set) var droppedEvents: UInt64 = 0
    /// A chatty QEMU cannot grow memory while commands run and nobody reads events.
    public static let maxPendingEvents = 4096

    private func queue(_ e: QMPEvent) {
        if pendingEvents.count - pendingHead >= Self.maxPendingEvents {
            pendingHead += 1
            droppedEvents &+= 1
            compactQueue()
        }
        pendingEvents.append(e)
    }

    /// Drops the consumed front once it is as long as the bound: O(1) amortised per event.
    private func compactQueue() {
        if pendingHead == pendingEvents.count {
            pendingEvents.removeAll(keepingCapacity: true)
            pendingHead = 0
        } else if pendingHead >= Self.maxPendingEvents {
            pendingEvents.removeFirst(pendingHead)
            pendingHead = 0
        }
    }

    /// The oldest queued event.
    private func dequeue() -> QMPEvent? {
        guard pendingHead < pendingEvents.count else { return nil }
        let e = pendingEvents[pendingHead]
        pendingHead += 1
        compactQueue()
        return e
    }

    /// The next event: a queued one at once, else waits up to `timeout` seconds; nil on timeout.
    public func nextEvent(timeout seconds: Double) throws(QMPError) -> QMPEvent? {
        if let queued = dequeue() { return queued }
        let deadline = SourceClock.monotonicNow() + max(0, seconds)
        while true {
            let message: QMPMessage
            do {
                message = try nextMessage(deadline: deadline, waitingFor: "events")
            } catch .timedOut {
                return nil
            }
            switch message {
            case .event(let e): return e
            case .success, .failure: continue  // late reply to a timed-out command
            case .greeting: throw .malformed(reason: "second greeting", excerpt: "")
            }
        }
    }

    private func nextMessage(deadline: Double, waitingFor what: String) throws(QMPError) -> QMPMessage {
        while true {
            if let line = try framer.nextLine() {
                return try QMPMessage.decode(line, receivedAt: SourceClock.monotonicNow())
            }
            let left = deadline - SourceClock.monotonicNow()
            if left <= 0 { throw .timedOut(waitingFor: what, seconds: timeout) }
            let ms = Int32(min(left * 1000, 60_000).rounded(.up))
            let attempt = readBuffer.withUnsafeMutableBytes { b in
                Result { () throws(QMPError) in try socket.read(into: b, timeoutMilliseconds: ms, cancellation: cancellation) }
            }
            switch try attempt.get() {
            case .bytes(let n):
                readBuffer.withUnsafeBytes { framer.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            case .endOfStream:
                throw .closed(waitingFor: framer.hasPartialLine ? "the rest of a message, \(what)" : what)
            case .timedOut:
                continue
            case .cancelled:
                throw .cancelled
            }
        }
    }
}

