import Testing
@testable import MonitorCore

/// The last-leaf cursor skips the descent when an update's page falls in the leaf of the
/// previous one. These sequences mostly stay near the previous update (so the cursor is used),
/// with jumps, ranges that cross leaves (index descents), splits and merges (rebalances), copies
/// that are written while the original keeps its cursor, and cap merges. `checkInvariants`
/// compares the cursor with a fresh descent after every operation.
@Suite struct SharedRegionMapCursorTests {
    /// A range near `around`, mostly 1-3 pages, sometimes long enough to span leaves.
    private static func nearbyRange(_ rng: inout SplitMix64, around: UInt64, in window: PageRange) -> PageRange {
        let jump = rng.below(40) == 0
        let lo: UInt64
        if jump {
            lo = window.lower + rng.below(window.count)
        } else {
            let step = rng.below(81)
            lo = min(window.upper - 1, max(window.lower, around + step >= 40 ? around + step - 40 : 0))
        }
        let count = rng.below(200) == 0 ? rng.below(3_000) : 1 + rng.below(3)
        return PageRange(lower: lo, upper: min(window.upper, lo + count))
    }

    @Test(arguments: [71 as UInt64, 72, 73])
    func localUpdatesMatchTheReference(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let window = PageRange(lower: 500, upper: 80_500)
        var map = SharedRegionMap()
        var ref = NaiveRegions()
        // Thousands of regions first: a tree of height 2.
        for i in 0..<4_000 as Range<UInt64> {
            let r = PageRange(first: window.lower + 20 * i, count: 1 + i % 3)
            map.markShared(r, stamp: 1)
            _ = ref.markShared(r, stamp: 1)
        }
        var saved = (map: map, ref: ref)
        var around = window.lower
        var cursorSet = 0
        for op in 0..<6_000 {
            let range = Self.nearbyRange(&rng, around: around, in: window)
            around = range.lower
            let stamp = UInt32(2 + op)
            let shared = rng.below(2) == 0
            if map.hasLeafCursor { cursorSet += 1 }
            let got = shared ? map.markShared(range, stamp: stamp) : map.markPrivate(range, stamp: stamp)
            let want = shared ? ref.markShared(range, stamp: stamp) : ref.markPrivate(range, stamp: stamp)
            guard got == want, map.count == ref.regions.count, map.sharedPages == ref.pages else {
                Issue.record("seed \(seed) op \(op): \(shared ? "markShared" : "markPrivate")(\(range.lower)..<\(range.upper)) returned \(got), reference \(want); count \(map.count) vs \(ref.regions.count)")
                return
            }
            map.checkInvariants()
            let probe = min(window.upper - 1, around + rng.below(8))
            guard map.region(containing: probe) == ref.region(containing: probe) else {
                Issue.record("seed \(seed) op \(op): region(containing: \(probe))")
                return
            }
            if op % 500 == 499 {
                guard map.allRegions == ref.regions else { Issue.record("seed \(seed) op \(op): regions differ"); return }
            }
            // A copy taken here is written by the next operation (its tree is duplicated, the
            // copy has no cursor); going back to the saved map later writes a tree whose cursor
            // was set before the copy.
            if op % 97 == 0 { saved = (map, ref) }
            if op % 97 == 60 && rng.below(2) == 0 {
                map = saved.map
                ref = saved.ref
                map.checkInvariants()
            }
        }
        #expect(map.allRegions == ref.regions)
        #expect(cursorSet > 3_000, "the sequence should mostly run with the cursor set: \(cursorSet)")
    }

    /// Past a small region cap, merges rewrite regions by index: every answer stays a superset of
    /// the reference and the cursor stays consistent.
    @Test(arguments: [81 as UInt64, 82])
    func localUpdatesUnderARegionCapStayConsistent(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let window = PageRange(lower: 0, upper: 40_000)
        var map = SharedRegionMap(regionCap: 300)
        var ref = NaiveRegions()
        var around: UInt64 = 0
        for op in 0..<5_000 {
            let range = Self.nearbyRange(&rng, around: around, in: window)
            around = range.lower
            let stamp = UInt32(op)
            // Mostly sharing, so the map runs into the cap.
            if rng.below(4) != 0 {
                map.markShared(range, stamp: stamp)
                _ = ref.markShared(range, stamp: stamp)
            } else {
                map.markPrivate(range, stamp: stamp)
                _ = ref.markPrivate(range, stamp: stamp)
            }
            map.checkInvariants()
            guard map.count <= 300, map.sharedPages >= ref.pages else {
                Issue.record("seed \(seed) op \(op): count \(map.count), pages \(map.sharedPages) < \(ref.pages)")
                return
            }
            if op % 250 == 0 {
                for r in ref.regions where map.region(containing: r.pages.lower).map({ $0.pages.upper < r.pages.upper }) ?? true {
                    Issue.record("seed \(seed) op \(op): shared region \(r.pages.lower)..<\(r.pages.upper) not covered")
                    return
                }
            }
        }
        #expect(map.isApproximate && map.peakCount > 300, "the test should hit the cap")
    }
}
