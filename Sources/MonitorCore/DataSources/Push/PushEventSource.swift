import Synchronization

/// A status shared by the producer thread (writes) and the model side (reads).
final class StatusBox: Sendable {
    let value: Mutex<SourceStatus>
    init(_ status: SourceStatus) { value = Mutex(status) }
}

/// What a producer body gets: emit events, watch the cancellation signal, update its status.
public struct PushContext: Sendable {
    public let cancellation: CancellationSignal
    let channel: EventChannel
    let statusBox: StatusBox

    /// Hands `event` to the model side; dropped (and counted) when the channel is full.
    public func emit(_ event: MonitorEvent) { channel.send(event) }

    /// Changes the status the source reports (position, lines, the source's own lost events).
    public func updateStatus(_ change: @Sendable (inout SourceStatus) -> Void) {
        statusBox.value.withLock { change(&$0) }
    }

    /// True once `stop()` was called: the body should return.
    public var isCancelled: Bool { cancellation.isCancelled }
}

/// An event source whose events come from `body` running on its own thread: a blocking reader
/// (trace_pipe, a QMP socket, a daemon client) becomes a polled source. `poll` drains the channel
/// and never blocks; `stop()` cancels and joins without waiting on a read, because the body waits
/// with `waitForReadable(fd, or: context.cancellation)` rather than in `read(2)`.
///
/// Events reach the model in CLOCK_MONOTONIC seconds: `clock` names the body's clock, and times on
/// another clock are moved onto it; events whose time is not finite are refused and counted
/// (`status.rejectedTimes`). Channel overflow is counted apart from the source's own lost events
/// (`status.overflowedEvents` against `status.droppedEvents`).
public final class PushEventSource: EventSource {
    private let channel: EventChannel
    private let statusBox: StatusBox
    private let cancellation: CancellationSignal
    private let body: @Sendable (PushContext) throws -> Void
    /// The body's clock.
    public let bodyClock: SourceClock
    private var normalizer: ClockNormalizer
    private var thread: ProducerThread?
    private var started = false
    /// Drained events held back by `until`.
    private var pending: [MonitorEvent] = []
    private var pendingHead = 0
    private var rejectedTimes: UInt64 = 0
    private var reportedError = false

    public init(status: SourceStatus, clock: SourceClock, capacity: Int = 65_536,
                body: @escaping @Sendable (PushContext) throws -> Void) throws(PushSourceError) {
        channel = EventChannel(capacity: capacity)
        statusBox = StatusBox(status)
        cancellation = try CancellationSignal()
        bodyClock = clock
        normalizer = ClockNormalizer(clock: clock)
        self.body = body
    }

    deinit { stop() }

    /// Starts the body on its own thread.
    public func start() throws(PushSourceError) {
        guard !started else { throw .alreadyStarted }
        started = true
        let context = PushContext(cancellation: cancellation, channel: channel, statusBox: statusBox)
        let body = self.body
        let channel = self.channel
        switch ProducerThread.start({
            do {
                try body(context)
                channel.finish(error: nil)
            } catch {
                channel.finish(error: error)
            }
        }) {
        case .success(let t): thread = t
        case .failure(let e): started = false; throw e
        }
    }

    /// Cancels the body and waits for its thread to end. Idempotent. Events already sent stay
    /// drainable.
    public func stop() {
        cancellation.cancel()
        thread?.join()
        thread = nil
    }

    public var clock: SourceClock { .monotonic }

    public func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        refill(limit)
        var delivered = 0
        while delivered < limit, pendingHead < pending.count {
            let e = pending[pendingHead]
            if let until, e.time > until { break }
            events.append(e)
            pendingHead += 1
            delivered += 1
        }
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
        guard pendingHead == pending.count, channel.isDrained else { return true }
        if let error = channel.finishError, !reportedError {
            reportedError = true
            throw error
        }
        return false
    }

    public func peekNextTime() throws -> EventTime? {
        refill(1)
        return pendingHead < pending.count ? pending[pendingHead].time : nil
    }

    /// Drains up to `limit` events into `pending`, moving each onto model time.
    private func refill(_ limit: Int) {
        let want = limit - (pending.count - pendingHead)
        guard want > 0 else { return }
        var fresh: [MonitorEvent] = []
        guard channel.drain(into: &fresh, limit: want) > 0 else { return }
        pending.reserveCapacity(pending.count + fresh.count)
        for e in fresh {
            if let m = e.retimed({ normalizer.modelTime($0) }) { pending.append(m) } else { rejectedTimes &+= 1 }
        }
    }

    public var status: SourceStatus {
        var s = statusBox.value.withLock { $0 }
        s.overflowedEvents = channel.droppedEvents
        s.rejectedTimes &+= rejectedTimes
        if channel.isDrained && pendingHead == pending.count { s.finished = true }
        return s
    }
}
