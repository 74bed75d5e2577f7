import Testing
@testable import MonitorCore

/// The paths that only large maps take: cap merges done inside the leaf just edited (a map at its
/// cap merges on nearly every update), and the window walk that answers a leaf's cell boundaries
/// several leaves after prefetching it.
@Suite struct SharedRegionMapScaleTests {
    /// A multi-leaf map held at its cap by single-page flips: every merge, whether done in the
    /// cursor's leaf or by index (regions compared across a leaf boundary, or after a rebalance),
    /// gives exactly the regions of the reference policy, stamps and approximate flags included.
    @Test(arguments: [91 as UInt64, 92])
    func capMergesMatchAReferenceOfThePolicy(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let cap = 2_000
        let window = PageRange(lower: 100, upper: 60_100)
        var map = SharedRegionMap(regionCap: cap)
        var ref = NaiveRegions()
        // Regions of 1-9 pages, gaps of 1-20: the cap is reached with room for more.
        var page = window.lower
        while ref.regions.count < cap - 10 {
            let r = PageRange(first: page, count: 1 + rng.below(9))
            map.markShared(r, stamp: 1)
            _ = ref.markShared(r, stamp: 1, cap: cap)
            page = r.upper + 1 + rng.below(20)
        }
        let span = PageRange(lower: window.lower, upper: page)
        for op in 0..<20_000 {
            let lo = span.lower + rng.below(span.count)
            let range = PageRange(lower: lo, upper: min(span.upper, lo + 1 + rng.below(rng.below(20) == 0 ? 200 : 2)))
            let stamp = UInt32(2 + op)
            let shared = rng.below(2) == 0
            let got = shared ? map.markShared(range, stamp: stamp) : map.markPrivate(range, stamp: stamp)
            let want = shared ? ref.markShared(range, stamp: stamp, cap: cap) : ref.markPrivate(range, stamp: stamp, cap: cap)
            guard got == want, map.count == ref.regions.count, map.sharedPages == ref.pages else {
                let call = "\(shared ? "markShared" : "markPrivate")(\(range.lower)..<\(range.upper))"
                Issue.record("seed \(seed) op \(op) \(call): returned \(got) (reference \(want)), \(map.count) regions (\(ref.regions.count)), \(map.sharedPages) pages (\(ref.pages))")
                return
            }
            if op % 1_000 == 999 {
                guard map.allRegions == ref.regions else { Issue.record("seed \(seed) op \(op): regions differ"); return }
                map.checkInvariants()
            }
        }
        #expect(map.isApproximate && map.peakCount > cap, "the test should run at the cap")
        #expect(map.allRegions == ref.regions)
        map.checkInvariants()
    }

    /// Cell boundaries over thousands of leaves: from one point a leaf to many, spans that start
    /// and end inside leaves or past the map, on maps built in address order, in random order and
    /// churned: every answer matches the reference.
    @Test func windowQueriesOverManyLeavesMatchTheReference() {
        var rng = SplitMix64(seed: 101)
        let n: UInt64 = 40_000
        var inOrder = SharedRegionMap(), shuffled = SharedRegionMap()
        var ref = NaiveRegions()
        var order = Array(0..<n)
        for i in order {
            let r = PageRange(first: 16 * i, count: 1 + i % 9)
            inOrder.markShared(r, stamp: 1)
            _ = ref.markShared(r, stamp: 1)
        }
        order.shuffle(using: &rng)
        for i in order { shuffled.markShared(PageRange(first: 16 * i, count: 1 + i % 9), stamp: 1) }
        var churned = inOrder
        var churnedRef = ref
        for _ in 0..<20_000 {
            let r = PageRange(first: rng.below(16 * n), count: 1 + rng.below(3))
            if rng.below(2) == 0 {
                churned.markShared(r, stamp: 2); _ = churnedRef.markShared(r, stamp: 2)
            } else {
                churned.markPrivate(r, stamp: 2); _ = churnedRef.markPrivate(r, stamp: 2)
            }
        }
        let whole = PageRange(lower: 0, upper: 16 * n)
        let spans = [whole, PageRange(lower: 16 * 777 + 3, upper: 16 * 31_111 + 5), PageRange(lower: 5, upper: 16 * n + 10_000),
                     PageRange(lower: 16 * 20_000 + 1, upper: 16 * 20_000 + 2_000)]
        for (name, map, reference) in [("in order", inOrder, ref), ("random order", shuffled, ref), ("churned", churned, churnedRef)] {
            #expect(map.allocatedBytes > 500 * 1_500, "\(name): the map should have hundreds of leaves")
            for span in spans {
                for cells in [1, 2, 3, 7, 8, 9, 17, 640, 5_000, 20_000, 100_000] {
                    let got = map.sharedPagesPerCell(span: span, cells: cells)
                    if got != reference.perCell(span: span, cells: cells) {
                        Issue.record("\(name): sharedPagesPerCell(span: \(span.lower)..<\(span.upper), cells: \(cells)) differs")
                    }
                }
            }
        }
    }
}
