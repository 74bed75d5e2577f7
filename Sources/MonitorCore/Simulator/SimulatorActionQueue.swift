/// Something the simulator does at a moment of simulated time.
enum SimulatorAction: Sendable, Hashable {
    /// A prepared event (layout, boot conversion, marker).
    case scripted(MonitorEvent)
    case startChurn
    case churnArrival
    case churnRelease(slot: Int)
    case largeArrival
    case largeRelease(slot: Int)
    case hostileStart
    case hostileBatch
    case startMigration
    case firstPass
    case migrationTick
    case passEnd
    case stopAndCopyEnd
    case kernelStats
    case end
}

/// Min-heap of actions ordered by (time, insertion order): ties keep the order they were
/// scheduled in, which is what makes the event stream deterministic. O(log n) push and pop.
struct SimulatorActionQueue: Sendable {
    private struct Item: Sendable {
        var time: Double
        var seq: UInt64
        var action: SimulatorAction
        func before(_ o: Item) -> Bool { time != o.time ? time < o.time : seq < o.seq }
    }
    private var heap: [Item] = []
    private var nextSeq: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: Double? { heap.first?.time }

    mutating func push(_ action: SimulatorAction, at time: Double) {
        heap.append(Item(time: time, seq: nextSeq, action: action))
        nextSeq += 1
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].before(heap[parent]) else { break }
            heap.swapAt(i, parent); i = parent
        }
    }

    mutating func pop() -> (time: Double, action: SimulatorAction)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && heap[l].before(heap[m]) { m = l }
                if r < heap.count && heap[r].before(heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m); i = m
            }
        }
        return (top.time, top.action)
    }
}
