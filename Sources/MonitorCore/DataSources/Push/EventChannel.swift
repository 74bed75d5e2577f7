import Synchronization

/// The bounded hand-over from one producer thread to the model side. Never blocks the consumer,
/// never blocks the producer either: when full, the event is dropped and counted, so a stalled
/// screen costs events (reported as dropped) and never stalls a kernel reader.
public final class EventChannel: Sendable {
    private let queue: BoundedQueue<MonitorEvent>
    private let ending = Mutex<(finished: Bool, error: (any Error)?)>((false, nil))

    public init(capacity: Int) {
        queue = BoundedQueue(capacity: capacity)
    }

    public var capacity: Int { queue.capacity }

    /// Producer: false when the channel was full and the event was dropped (and counted).
    @discardableResult public func send(_ event: MonitorEvent) -> Bool {
        queue.offer(event)
    }

    /// Consumer: moves up to `limit` waiting events to `events`, in the order sent; returns how
    /// many. Never waits.
    public func drain(into events: inout [MonitorEvent], limit: Int) -> Int {
        queue.drain(into: &events, limit: limit)
    }

    /// Events dropped because the channel was full.
    public var droppedEvents: UInt64 { queue.dropped }

    /// Events waiting.
    public var count: Int { queue.count }

    /// Producer: it has ended, with the error that ended it, if any. Later sends are dropped.
    public func finish(error: (any Error)?) {
        ending.withLock { $0 = (true, error) }
        queue.finish()
    }

    /// True once the producer has finished and every event has been drained.
    public var isDrained: Bool { queue.isDrained }

    /// The error the producer finished with (nil while running or after a clean end).
    public var finishError: (any Error)? { ending.withLock { $0.error } }
}
