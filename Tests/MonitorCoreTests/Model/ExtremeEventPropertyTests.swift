import Testing
@testable import MonitorCore

/// The shared set as a plain sorted list of disjoint half-open ranges: the reference.
struct ReferenceSharedSet: Equatable {
    var ranges: [(lower: UInt64, upper: UInt64)] = []

    mutating func set(_ r: PageRange, shared: Bool) {
        guard !r.isEmpty else { return }
        var out: [(lower: UInt64, upper: UInt64)] = []
        var lo = r.lower, hi = r.upper
        for x in ranges {
            if x.upper < r.lower || x.lower > r.upper || (!shared && (x.upper == r.lower || x.lower == r.upper)) {
                out.append(x)
            } else if shared {
                lo = min(lo, x.lower); hi = max(hi, x.upper)
            } else {
                if x.lower < r.lower { out.append((x.lower, r.lower)) }
                if x.upper > r.upper { out.append((r.upper, x.upper)) }
            }
        }
        if shared { out.append((lo, hi)) }
        ranges = out.sorted { $0.lower < $1.lower }
    }

    var pages: UInt64 { ranges.reduce(0) { $0 + ($1.upper - $1.lower) } }

    static func == (a: Self, b: Self) -> Bool { a.ranges.elementsEqual(b.ranges) { $0 == $1 } }
}

/// Random extreme events (huge counts, wrapping ranges, non-finite, backwards and jumping times):
/// the model must neither trap nor break its invariants.
@Suite struct ExtremeEventPropertyTests {
    struct Generator {
        var rng: SplitMix64
        var clock: EventTime = 1_000

        mutating func pick<T>(_ xs: [T]) -> T { xs[Int(rng.below(UInt64(xs.count)))] }

        mutating func time() -> EventTime {
            switch rng.below(20) {
            case 0: return pick([.infinity, -.infinity, .nan, 1e300, -1e300, Double(UInt64.max), -0x1p62])
            case 1: clock -= Double(rng.below(1_000_000))  // backwards
            case 2: clock += pick([1e6, 1e9, 3e9, 1e12])  // jumps (a year, decades)
            default: clock += Double(rng.below(2_000)) / 1_000
            }
            return clock
        }

        mutating func count() -> UInt64 {
            switch rng.below(6) {
            case 0: return PageRange.maxPage
            case 1: return UInt64.max - rng.below(4)
            case 2: return rng.next() >> rng.below(64)
            default: return 1 + rng.below(64)
            }
        }

        mutating func page() -> UInt64 {
            switch rng.below(5) {
            case 0: return 0
            case 1: return PageRange.maxPage - 1 - rng.below(16)
            case 2: return rng.next()  // past the end: clamped or rejected
            default: return rng.below(1 << 20)
            }
        }

        mutating func event() -> MonitorEvent {
            let t = time()
            switch rng.below(12) {
            case 0...4:
                return .conversion(Conversion(time: t, pages: PageRange(first: page(), count: count()),
                                              direction: rng.below(2) == 0 ? .toShared : .toPrivate, path: pick(ConversionPath.allCases)))
            case 5:
                // As the hypercall parser builds them: wrapping and unaligned requests become rejections.
                return MapGPARangeRequest(gpa: rng.below(2) == 0 ? page() << 12 : rng.next(), pageCount: count(),
                                          attributes: pick([0, 0x10, 0x1f, rng.next()])).event(time: t, path: .hypercall)
            case 6: return .lostEvents(time: t, count: count())
            case 7: return .counter(time: t, name: pick(["exits", "hypercalls"]), value: rng.next())
            case 8:
                let ranges = (0..<rng.below(4)).map { _ in
                    GuestLayoutRange(pages: PageRange(first: page(), count: count()), kind: .ram, name: "r")
                }
                return .layout(GuestLayout(time: t, ranges: ranges))
            case 9:
                return .migrationProgress(MigrationProgress(time: t, status: pick([.active, .precopy, .completed]), pass: Int(rng.below(6)),
                                                            ramTransferredBytes: rng.next(), ramRemainingBytes: rng.next(), ramTotalBytes: rng.next(),
                                                            dirtyPagesPerSecond: pick([1.0, .infinity, .nan]), bandwidthBytesPerSecond: pick([0, 1e9, .infinity])))
            case 10: return .otherHypercall(time: t, number: rng.next())
            default: return .marker(time: t, text: "m")
            }
        }
    }

    @Test(arguments: 0..<24)
    func randomExtremeEventsKeepTheInvariants(seed: UInt64) {
        var gen = Generator(rng: SplitMix64(seed: seed &* 0x9E37_79B9 &+ 7))
        var m = Monitor()
        var reference = ReferenceSharedSet()
        var usable = 0, refused = 0, conversions: UInt64 = 0
        var pagesToShared: UInt64 = 0, maxTime: EventTime?, firstTime: EventTime?
        for step in 0..<1_500 {
            let e = gen.event()
            m.apply(e)
            guard Monitor.isUsableTime(e.time) else { refused += 1; continue }
            usable += 1
            firstTime = firstTime ?? e.time
            maxTime = max(maxTime ?? e.time, e.time)
            if case .conversion(let c) = e {
                conversions += 1
                reference.set(c.pages, shared: c.direction == .toShared)
                if c.direction == .toShared { pagesToShared = pagesToShared.addingSaturating(c.pages.count) }
            }
            if step % 100 == 0 {
                let idle = gen.time()
                m.advance(to: idle)
                if Monitor.isUsableTime(idle) { firstTime = firstTime ?? idle; maxTime = max(maxTime ?? idle, idle) }
                _ = MonitorSummary.json(m.snapshot(), source: SourceStatus(kind: .replay, name: "p")).serialized()
                _ = MonitorSummary.text(m.snapshot(), source: SourceStatus(kind: .replay, name: "p"))
            }
        }
        m.regions.checkInvariants()
        #expect(!m.regions.isApproximate)
        #expect(m.regions.allRegions.map { ($0.pages.lower, $0.pages.upper) }.elementsEqual(reference.ranges) { $0 == $1 })
        #expect(m.regions.sharedPages == reference.pages)
        #expect(m.totals.rejectedTimes == UInt64(refused))
        #expect(m.totals.events == UInt64(usable))
        #expect(m.totals.conversions == conversions)
        #expect(m.totals.toShared + m.totals.toPrivate == conversions)
        #expect(m.totals.pagesToShared == pagesToShared)
        #expect(m.origin == firstTime)
        #expect(m.now >= (maxTime ?? 0))
        #expect(Monitor.isUsableTime(m.now))
        for f in m.snapshot().rates {
            #expect(f.calls.isFinite && f.calls >= 0 && f.pages.isFinite && f.pages >= 0)
        }
        if let l = m.layout {
            #expect(zip(l.ranges, l.ranges.dropFirst()).allSatisfy { $0.pages.upper <= $1.pages.lower })
        }
    }
}
