import Dispatch
import Synchronization

/// A bounded first-in-first-out hand-over between one producer thread and one consumer, under
/// one lock. The consumer may drain without blocking (`drain`) or wait (`take`); the producer may
/// drop when full (`offer`) or wait for room (`put`). Both sides can end it: `finish` (no more
/// elements) and `cancel` (nobody reads any more; a waiting producer wakes).
///
/// Each side sleeps on its own semaphore only after saying so under the lock, and the other side
/// signals only then, so every signal meets exactly one wait.
final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        /// Elements from `head` on are waiting; the slots before it are taken and hold nil, so a
        /// taken element is released at once (a queue that never runs empty would otherwise keep
        /// thousands of them alive until the next compaction).
        var buffer: [Element?] = []
        var head = 0
        var dropped: UInt64 = 0
        var finished = false
        var cancelled = false
        var consumerWaiting = false
        var producerWaiting = false

        var count: Int { buffer.count - head }

        /// Whether the consumer sleeps and must be signalled; a sleeper is handed out once.
        mutating func takeConsumerWaiter() -> Bool {
            defer { consumerWaiting = false }
            return consumerWaiting
        }

        /// Whether the producer sleeps and must be signalled; a sleeper is handed out once.
        mutating func takeProducerWaiter() -> Bool {
            defer { producerWaiting = false }
            return producerWaiting
        }

        mutating func removeFirst(_ n: Int, into out: inout [Element]) {
            for i in head..<(head + n) {
                if let e = buffer[i].take() { out.append(e) }
            }
            head += n
            if head == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 4_096 && head * 2 >= buffer.count {
                // Amortised O(1): the taken prefix is dropped once it is half the buffer.
                buffer.removeFirst(head)
                head = 0
            }
        }
    }

    let capacity: Int
    private let state = Mutex(State())
    private let elementsReady = DispatchSemaphore(value: 0)
    private let roomReady = DispatchSemaphore(value: 0)

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Producer, never blocks: false (and one more dropped element) when full or cancelled.
    func offer(_ element: Element) -> Bool {
        let (accepted, wake) = state.withLock { s -> (Bool, Bool) in
            guard !s.cancelled, !s.finished, s.count < capacity else {
                s.dropped = s.dropped &+ 1
                return (false, false)
            }
            s.buffer.append(element)
            return (true, s.takeConsumerWaiter())
        }
        if wake { elementsReady.signal() }
        return accepted
    }

    /// Producer, waits for room: false once the consumer has cancelled.
    func put(_ element: Element) -> Bool {
        while true {
            let (outcome, wake) = state.withLock { s -> (Bool?, Bool) in
                if s.cancelled { return (false, false) }
                guard s.count < capacity else {
                    s.producerWaiting = true
                    return (nil, false)
                }
                s.buffer.append(element)
                return (true, s.takeConsumerWaiter())
            }
            if wake { elementsReady.signal() }
            if let outcome { return outcome }
            roomReady.wait()
        }
    }

    /// Producer: nothing more will come. Never blocks.
    func finish() {
        let wake = state.withLock { s -> Bool in
            s.finished = true
            return s.takeConsumerWaiter()
        }
        if wake { elementsReady.signal() }
    }

    /// Consumer: nobody takes any more; a producer waiting for room wakes and `put` returns false.
    func cancel() {
        let wake = state.withLock { s -> Bool in
            s.cancelled = true
            return s.takeProducerWaiter()
        }
        if wake { roomReady.signal() }
    }

    /// Consumer, never blocks: moves up to `limit` waiting elements to `out`; returns how many.
    func drain(into out: inout [Element], limit: Int) -> Int {
        guard limit > 0 else { return 0 }
        let (n, wake) = state.withLock { s -> (Int, Bool) in
            let n = min(limit, s.count)
            if n > 0 { s.removeFirst(n, into: &out) }
            return (n, n > 0 && s.takeProducerWaiter())
        }
        if wake { roomReady.signal() }
        return n
    }

    /// Consumer, waits: the next element, or nil once the producer has finished and all is taken.
    func take() -> Element? {
        while true {
            var one: [Element] = []
            let (done, wake) = state.withLock { s -> (Bool, Bool) in
                if s.count > 0 {
                    s.removeFirst(1, into: &one)
                    return (true, s.takeProducerWaiter())
                }
                if s.finished { return (true, false) }
                s.consumerWaiting = true
                return (false, false)
            }
            if wake { roomReady.signal() }
            if done { return one.first }
            elementsReady.wait()
        }
    }

    /// Elements dropped by `offer`.
    var dropped: UInt64 { state.withLock { $0.dropped } }
    /// Elements waiting.
    var count: Int { state.withLock { $0.count } }
    /// The producer has finished and every element is taken.
    var isDrained: Bool { state.withLock { $0.finished && $0.count == 0 } }
}
