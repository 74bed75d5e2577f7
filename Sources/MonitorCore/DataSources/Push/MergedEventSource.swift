/// Several sources as one stream (trace events + QMP + KVM counters). Every source's times are
/// moved onto CLOCK_MONOTONIC seconds (`ClockNormalizer`), so a wall-clock or trace-clock source
/// never makes the model's `now` jump by decades; events come out in time order of what each
/// source has ready (ties: the earlier source first).
public final class MergedEventSource: EventSource {
    private final class Member {
        let source: any EventSource
        var normalizer: ClockNormalizer
        var pending: [MonitorEvent] = []
        var head = 0
        var more = true
        var rejectedTimes: UInt64 = 0

        init(_ source: any EventSource) {
            self.source = source
            normalizer = ClockNormalizer(clock: source.clock)
        }

        var next: MonitorEvent? { head < pending.count ? pending[head] : nil }

        /// Polls the source once when nothing is pending.
        func refill(_ limit: Int) throws {
            guard more, head == pending.count else { return }
            pending.removeAll(keepingCapacity: true)
            head = 0
            var fresh: [MonitorEvent] = []
            more = try source.poll(until: nil, limit: limit, into: &fresh)
            for e in fresh {
                if let m = e.retimed({ normalizer.modelTime($0) }) { pending.append(m) } else { rejectedTimes &+= 1 }
            }
        }
    }

    private let members: [Member]

    public init(_ sources: [any EventSource]) {
        members = sources.map(Member.init)
    }

    public var clock: SourceClock { .monotonic }

    public func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        var refilled = Set<ObjectIdentifier>()
        var delivered = 0
        while delivered < limit {
            var best: Member?
            for m in members {
                // A member that ran dry is asked again (once a poll) before another's later event goes out.
                if m.next == nil, refilled.insert(ObjectIdentifier(m)).inserted { try m.refill(max(1, limit - delivered)) }
                guard let e = m.next else { continue }
                if let b = best?.next, b.time <= e.time { continue }
                best = m
            }
            guard let best, let e = best.next else { break }
            if let until, e.time > until { break }
            events.append(e)
            best.head += 1
            delivered += 1
        }
        return members.contains { $0.more || $0.next != nil }
    }

    public func peekNextTime() throws -> EventTime? {
        for m in members { try m.refill(1) }
        return members.compactMap { $0.next?.time }.min()
    }

    /// Each member's own status.
    public var statuses: [SourceStatus] {
        members.map { m in
            var s = m.source.status
            s.rejectedTimes &+= m.rejectedTimes
            return s
        }
    }

    /// The first source's name and kind, with every source's counts added up.
    public var status: SourceStatus {
        let all = statuses
        guard var s = all.first else { return SourceStatus(kind: .live, name: "nothing", finished: true) }
        for o in all.dropFirst() {
            s.lines &+= o.lines; s.skippedLines &+= o.skippedLines; s.malformedLines &+= o.malformedLines
            s.droppedEvents &+= o.droppedEvents; s.overflowedEvents &+= o.overflowedEvents
            s.rejectedTimes &+= o.rejectedTimes
        }
        s.finished = all.allSatisfy(\.finished)
        return s
    }
}
