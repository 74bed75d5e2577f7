import Testing
@testable import MonitorCore

/// The model caches a region stamp and a rate second over an interval of times; these tests
/// compare both with the formulas computed directly for every event, at times crowded around
/// tenth and second boundaries (one ulp either side), going forward and sometimes back.
@Suite struct MonitorClockTests {
    /// Times starting at an origin that is not a round number, each step small, exactly on a
    /// boundary, or one ulp either side of one; one step in 16 goes back.
    static func times(seed: UInt64, count: Int) -> [Double] {
        var rng = SplitMix64(seed: seed)
        let origin = 1_000.037 + Double(rng.below(1000)) / 7
        var out = [origin], offset = 0.0
        for _ in 1..<count {
            switch rng.below(16) {
            case 0: offset = Swift.max(0, offset - Double(rng.below(300)) / 1000)
            case 1...5:
                // Near the next tenth, as the model sees it: origin + k/10.
                let k = (offset * 10).rounded(.down) + 1
                let b = origin + k / 10
                let u = [b.nextDown, b, b.nextUp][Int(rng.below(3))] - origin
                offset = Swift.max(offset, u)
            default: offset += Double(rng.below(20_000)) / 1_000_000
            }
            out.append(origin + offset)
        }
        return out
    }

    static func expectedStamp(_ t: Double, origin: Double) -> UInt32 {
        let ticks = (t - origin) * Monitor.stampsPerSecond
        return ticks > 0 ? (ticks < Double(UInt32.max) ? UInt32(ticks) : UInt32.max) : 0
    }

    /// Calls to shared per rate second: out-of-order events count in the latest second seen.
    static func expectedCalls(_ times: [Double]) -> [Int64: UInt64] {
        var calls: [Int64: UInt64] = [:], current = Int64.min
        for t in times {
            current = Swift.max(current, Int64((t - times[0]).rounded(.down)))
            calls[current, default: 0] += 1
        }
        return calls
    }

    static func check(_ m: Monitor, _ times: [Double]) {
        // Page 2i was shared at times[i], alone: its region's first stamp is that event's.
        let regions = m.regions.allRegions
        #expect(regions.count == times.count)
        for (i, r) in regions.enumerated() {
            let want = expectedStamp(times[i], origin: times[0])
            if r.firstShared != want {
                Issue.record("event \(i) at \(times[i]): stamp \(r.firstShared), want \(want)")
                return
            }
        }
        let history = m.rates.history(seconds: m.rates.historySeconds)
        let want = expectedCalls(times)
        for b in history where b.callsToShared != want[b.second, default: 0] {
            Issue.record("second \(b.second): \(b.callsToShared) calls, want \(want[b.second, default: 0])")
        }
        #expect(history.map(\.callsToShared).reduce(0, +) == UInt64(times.count))
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func batchStampsAndSecondsMatchTheFormulas(seed: UInt64) {
        let times = Self.times(seed: seed, count: 3_000)
        var batch = TraceEventBatch()
        for (i, t) in times.enumerated() {
            batch.append(ConversionRecord(time: t, pages: PageRange(first: UInt64(2 * i), count: 1), direction: .toShared, path: .hypercall))
        }
        var m = Monitor()
        m.apply(batch)
        Self.check(m, times)
    }

    @Test(arguments: [5, 6] as [UInt64])
    func perEventStampsAndSecondsMatchTheFormulas(seed: UInt64) {
        let times = Self.times(seed: seed, count: 3_000)
        var m = Monitor()
        for (i, t) in times.enumerated() {
            m.apply(.conversion(Conversion(time: t, pages: PageRange(first: UInt64(2 * i), count: 1), direction: .toShared, path: .hypercall)))
        }
        Self.check(m, times)
    }
}
