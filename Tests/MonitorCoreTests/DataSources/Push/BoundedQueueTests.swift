import Synchronization
import Testing
@testable import MonitorCore

/// Counts live instances, so a test sees whether the queue still holds what it handed out.
private final class Tracked: Sendable {
    static let live = Atomic<Int>(0)
    init() { Self.live.add(1, ordering: .relaxed) }
    deinit { Self.live.subtract(1, ordering: .relaxed) }
}

@Suite(.serialized) struct BoundedQueueTests {
    /// A pipelined replay keeps its queue full (the parser runs ahead), so the queue is never
    /// empty when the consumer takes: a taken element must still be released at once, or every
    /// batch of the replay stays alive (memory growing with the file, batches never reused).
    @Test func takenElementsAreReleasedWhileTheQueueNeverRunsEmpty() {
        let before = Tracked.live.load(ordering: .relaxed)
        let queue = BoundedQueue<Tracked>(capacity: 4)
        for _ in 0..<3 { #expect(queue.offer(Tracked())) }
        var mostAlive = 0
        for _ in 0..<1_000 {
            #expect(queue.offer(Tracked()))
            do { let taken = queue.take(); #expect(taken != nil) }
            mostAlive = max(mostAlive, Tracked.live.load(ordering: .relaxed) - before)
        }
        #expect(mostAlive <= 4, "the queue kept \(mostAlive) elements alive, capacity 4")
        var drained: [Tracked] = []
        #expect(queue.drain(into: &drained, limit: 10) == 3)
        drained.removeAll()
        #expect(Tracked.live.load(ordering: .relaxed) - before == 0)
    }

    @Test func drainReleasesWhatItMovesOut() {
        let before = Tracked.live.load(ordering: .relaxed)
        let queue = BoundedQueue<Tracked>(capacity: 8)
        for round in 0..<200 {
            for _ in 0..<3 { #expect(queue.offer(Tracked())) }
            var out: [Tracked] = []
            #expect(queue.drain(into: &out, limit: round == 0 ? 1 : 3) == (round == 0 ? 1 : 3))
            out.removeAll()
            #expect(Tracked.live.load(ordering: .relaxed) - before == queue.count)
        }
    }
}
