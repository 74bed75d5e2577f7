import Testing
@testable import MonitorCore

/// Per-page truth over `base ..< base + bits.count`, independent of any region logic.
private struct PageBits {
    var base: UInt64
    var bits: [Bool]

    /// Applies the operation inside the window; returns the pages that changed inside it.
    mutating func set(_ range: PageRange, shared: Bool) -> UInt64 {
        let window = PageRange(lower: base, upper: base + UInt64(bits.count))
        let r = range.clamped(to: window)
        var changed: UInt64 = 0
        for p in r.lower..<r.upper where bits[Int(p - base)] != shared {
            bits[Int(p - base)] = shared
            changed += 1
        }
        return changed
    }

    /// The maximal shared runs inside the window.
    var runs: [PageRange] {
        var out: [PageRange] = []
        var i = 0
        while i < bits.count {
            guard bits[i] else { i += 1; continue }
            let start = i
            while i < bits.count && bits[i] { i += 1 }
            out.append(PageRange(lower: base + UInt64(start), upper: base + UInt64(i)))
        }
        return out
    }
}

/// Everything the map answers, compared with the reference; records an issue naming the seed.
private func compare(_ map: SharedRegionMap, _ ref: NaiveRegions, _ rng: inout SplitMix64, universe: [PageRange],
                     full: Bool, context: @autoclosure () -> String) -> Bool {
    func fail(_ what: String) -> Bool {
        Issue.record("\(context()): \(what)")
        return false
    }
    if map.count != ref.regions.count { return fail("count \(map.count) != \(ref.regions.count)") }
    if map.isEmpty != ref.regions.isEmpty { return fail("isEmpty") }
    if map.sharedPages != ref.pages { return fail("sharedPages \(map.sharedPages) != \(ref.pages)") }
    if full {
        let all = map.allRegions
        if all != ref.regions { return fail("regions\n  map \(all)\n  ref \(ref.regions)") }
        map.checkInvariants()
        guard topKMatchesAFullSort(map, ref.regions, context: context()) else { return false }
    }
    func randomPage() -> UInt64 {
        let u = universe[Int(rng.below(UInt64(universe.count)))]
        return u.lower + rng.below(u.count)
    }
    for _ in 0..<3 {
        let p = randomPage()
        if map.region(containing: p) != ref.region(containing: p) { return fail("region(containing: \(p))") }
        let i = ref.firstEnding(atOrAfter: p + 1)
        if map.index(ofFirstRegionEndingAfter: p) != i { return fail("index(ofFirstRegionEndingAfter: \(p))") }
        // Large windows cost the reference O(n); small ones keep the per-operation checks quick.
        let q = full ? randomPage() : min(p + rng.below(200), PageRange.maxPage - 1)
        let window = PageRange(lower: min(p, q), upper: max(p, q) + 1)
        if map.sharedPages(in: window) != ref.sharedPages(in: window) { return fail("sharedPages(in: \(window.lower)..<\(window.upper))") }
    }
    if !ref.regions.isEmpty {
        let i = Int(rng.below(UInt64(ref.regions.count)))
        if map.region(at: i) != ref.regions[i] { return fail("region(at: \(i))") }
    }
    if full {
        let p = randomPage(), q = randomPage()
        let span = PageRange(lower: min(p, q), upper: min(PageRange.maxPage, max(p, q) + rng.below(3)))
        let cells = 1 + Int(rng.below(40))
        if map.sharedPagesPerCell(span: span, cells: cells) != ref.perCell(span: span, cells: cells) {
            return fail("sharedPagesPerCell(span: \(span.lower)..<\(span.upper), cells: \(cells))")
        }
    }
    return true
}

/// The reference orders of `largestRegions` and `oldestRegions`: a full sort, ties by address.
private func largestFirst(_ a: SharedRegion, _ b: SharedRegion) -> Bool {
    a.pages.count != b.pages.count ? a.pages.count > b.pages.count : a.pages.lower < b.pages.lower
}
private func oldestFirst(_ a: SharedRegion, _ b: SharedRegion) -> Bool {
    a.firstShared != b.firstShared ? a.firstShared < b.firstShared : a.pages.lower < b.pages.lower
}

/// `largestRegions(k)` and `oldestRegions(k)` against prefixes of a full sort of `regions` (the
/// map's regions in address order), for k = 0, 1, 7, count, count + 5; records an issue.
private func topKMatchesAFullSort(_ map: SharedRegionMap, _ regions: [SharedRegion], context: @autoclosure () -> String) -> Bool {
    let largest = regions.sorted(by: largestFirst), oldest = regions.sorted(by: oldestFirst)
    for k in [0, 1, 7, regions.count, regions.count + 5] {
        let got = map.largestRegions(k)
        guard got == Array(largest.prefix(k)) else {
            Issue.record("\(context()): largestRegions(\(k))\n  map \(got)\n  ref \(Array(largest.prefix(k)))")
            return false
        }
        let gotOldest = map.oldestRegions(k)
        guard gotOldest == Array(oldest.prefix(k)) else {
            Issue.record("\(context()): oldestRegions(\(k))\n  map \(gotOldest)\n  ref \(Array(oldest.prefix(k)))")
            return false
        }
    }
    return true
}

/// A random range inside `window`: mostly single pages and short runs, some long and nested ones.
private func randomRange(_ rng: inout SplitMix64, in window: PageRange) -> PageRange {
    let lo = window.lower + rng.below(window.count)
    let length: UInt64
    switch rng.below(10) {
    case 0...4: length = 1
    case 5...7: length = 1 + rng.below(8)
    case 8: length = 1 + rng.below(window.count / 4 + 1)
    default: length = rng.below(window.count)  // may be empty
    }
    return PageRange(lower: lo, upper: min(window.upper, lo + length))
}

@Suite struct SharedRegionMapTests {
    /// Small span, every answer compared after every operation, including the per-page truth.
    @Test(arguments: [1 as UInt64, 2, 3, 4])
    func randomOperationsMatchTheReference(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let window = PageRange(lower: 0, upper: 400)
        var map = SharedRegionMap()
        var ref = NaiveRegions()
        var truth = PageBits(base: 0, bits: Array(repeating: false, count: 400))
        for op in 0..<5_000 {
            let range = randomRange(&rng, in: window)
            let stamp = UInt32(op)
            let shared = rng.below(2) == 0
            let got = shared ? map.markShared(range, stamp: stamp) : map.markPrivate(range, stamp: stamp)
            let want = shared ? ref.markShared(range, stamp: stamp) : ref.markPrivate(range, stamp: stamp)
            let changed = truth.set(range, shared: shared)
            guard got == want, want == changed else {
                Issue.record("seed \(seed) op \(op): \(shared ? "markShared" : "markPrivate")(\(range.lower)..<\(range.upper)) returned \(got), reference \(want), pages \(changed)")
                return
            }
            guard ref.regions.map(\.pages) == truth.runs else {
                Issue.record("seed \(seed) op \(op): reference disagrees with the per-page truth")
                return
            }
            guard compare(map, ref, &rng, universe: [window], full: true, context: "seed \(seed) op \(op)") else { return }
        }
    }

    /// A fragmented map of thousands of regions (a multi-level tree), with occasional ranges that
    /// swallow or carve many regions across leaves.
    @Test(arguments: [11 as UInt64, 12])
    func fragmentedMapMatchesTheReference(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let window = PageRange(lower: 1_000, upper: 41_000)
        var map = SharedRegionMap()
        var ref = NaiveRegions()
        for op in 0..<30_000 {
            let range: PageRange
            if rng.below(500) == 0 {
                let lo = window.lower + rng.below(window.count)
                range = PageRange(lower: lo, upper: min(window.upper, lo + rng.below(1_000)))
            } else {
                range = PageRange(first: window.lower + rng.below(window.count), count: 1 + rng.below(2))
            }
            let stamp = UInt32(op)
            let shared = rng.below(100) < 52
            let got = shared ? map.markShared(range, stamp: stamp) : map.markPrivate(range, stamp: stamp)
            let want = shared ? ref.markShared(range, stamp: stamp) : ref.markPrivate(range, stamp: stamp)
            guard got == want else {
                Issue.record("seed \(seed) op \(op): \(shared ? "markShared" : "markPrivate")(\(range.lower)..<\(range.upper)) returned \(got), reference \(want)")
                return
            }
            let full = op % 1_000 == 999
            guard compare(map, ref, &rng, universe: [window], full: full, context: "seed \(seed) op \(op)") else { return }
        }
        #expect(map.count > 3_000, "the test should build a multi-level tree")
    }

    /// Tens of thousands of regions (three levels), then churn, checked against the reference.
    @Test func deepTreeMatchesTheReference() {
        let seed: UInt64 = 21
        var rng = SplitMix64(seed: seed)
        var map = SharedRegionMap()
        var ref = NaiveRegions()
        for i in 0..<60_000 as Range<UInt64> {
            let r = PageRange(first: 3 * i, count: 1 + i % 2)
            map.markShared(r, stamp: 1)
            ref.regions.append(SharedRegion(pages: r, firstShared: 1, lastChange: 1))
            ref.pages += r.count
        }
        let window = PageRange(lower: 0, upper: 180_000)
        guard compare(map, ref, &rng, universe: [window], full: true, context: "seed \(seed) build") else { return }
        for op in 0..<3_000 {
            let range = rng.below(50) == 0
                ? PageRange(first: rng.below(window.upper), count: rng.below(20_000))
                : PageRange(first: rng.below(window.upper), count: 1 + rng.below(3))
            let shared = rng.below(2) == 0
            let got = shared ? map.markShared(range, stamp: 2) : map.markPrivate(range, stamp: 2)
            let want = shared ? ref.markShared(range, stamp: 2) : ref.markPrivate(range, stamp: 2)
            guard got == want else { Issue.record("seed \(seed) op \(op): returned \(got), reference \(want)"); return }
            guard compare(map, ref, &rng, universe: [window], full: op % 500 == 0, context: "seed \(seed) op \(op)") else { return }
        }
        guard compare(map, ref, &rng, universe: [window], full: true, context: "seed \(seed) end") else { return }
        // Removing everything shrinks the tree back to an empty root.
        #expect(map.markPrivate(PageRange(lower: 0, upper: PageRange.maxPage), stamp: 3) == ref.pages)
        #expect(map.isEmpty && map.sharedPages == 0)
        map.checkInvariants()
    }

    /// Single-page flips in place on a map built in address order (full nodes): overflowing
    /// nodes whose neighbours are full too are split four into five, and the result matches the
    /// reference and stays at most 32 bytes a region (the RegionMap benchmark's pattern).
    @Test func inPlaceFlipsOnAFullMapMatchTheReferenceInAtMost32BytesARegion() {
        var rng = SplitMix64(seed: 61)
        var map = SharedRegionMap()
        var ref = NaiveRegions()
        let n: UInt64 = 20_000
        for i in 0..<n {
            let r = PageRange(first: 16 * i, count: 8)
            map.markShared(r, stamp: 1)
            ref.regions.append(SharedRegion(pages: r, firstShared: 1, lastChange: 1))
            ref.pages += r.count
        }
        let window = PageRange(lower: 0, upper: 16 * n)
        for op in 0..<20_000 {
            let r = PageRange(first: rng.below(window.upper), count: 1)
            let shared = map.region(containing: r.lower) != nil
            for (k, share) in [!shared, shared].enumerated() {
                let stamp = UInt32(2 + k)
                let got = share ? map.markShared(r, stamp: stamp) : map.markPrivate(r, stamp: stamp)
                let want = share ? ref.markShared(r, stamp: stamp) : ref.markPrivate(r, stamp: stamp)
                guard got == want else { Issue.record("op \(op): returned \(got), reference \(want)"); return }
            }
            if op % 2_000 == 0 { map.checkInvariants() }
        }
        guard compare(map, ref, &rng, universe: [window], full: true, context: "flips end") else { return }
        map.checkInvariants()
        #expect(map.count == Int(n))
        #expect(map.allocatedBytes <= 32 * map.count, "\(Double(map.allocatedBytes) / Double(map.count)) bytes a region")
    }

    /// In-order and descending builds (a scan's pattern), where nodes overflowing at the end
    /// of the tree split unevenly, with some deletions near the growing end that shrink the small
    /// edge nodes; then churn everywhere.
    @Test(arguments: [41 as UInt64, 42])
    func edgeBuildsMatchTheReference(seed: UInt64) {
        for descending in [false, true] {
            var rng = SplitMix64(seed: seed)
            var map = SharedRegionMap()
            var ref = NaiveRegions()
            let n: UInt64 = 8_000
            let context = "seed \(seed) \(descending ? "descending" : "in-order")"
            for k in 0..<n {
                let i = descending ? n - 1 - k : k
                let range: PageRange
                let shared = rng.below(20) != 0
                if shared {
                    range = PageRange(first: 8 * i, count: 1 + rng.below(3))
                } else {
                    // Carve near the growing end: splits, shrinks or removes recent regions.
                    let back = rng.below(100)
                    let page = descending ? 8 * i + back : 8 * i - Swift.min(8 * i, back)
                    range = PageRange(first: page, count: 1 + rng.below(4))
                }
                let got = shared ? map.markShared(range, stamp: UInt32(k)) : map.markPrivate(range, stamp: UInt32(k))
                let want = shared ? ref.markShared(range, stamp: UInt32(k)) : ref.markPrivate(range, stamp: UInt32(k))
                guard got == want else { Issue.record("\(context) op \(k): returned \(got), reference \(want)"); return }
                guard compare(map, ref, &rng, universe: [PageRange(lower: 0, upper: 8 * n)], full: k % 1_000 == 999,
                              context: "\(context) op \(k)") else { return }
            }
            let bytesPerRegion = Double(map.allocatedBytes) / Double(map.count)
            #expect(bytesPerRegion < 30, "\(context): \(bytesPerRegion) bytes a region; edge splits should fill nodes")
            for op in 0..<3_000 {
                let range = PageRange(first: rng.below(8 * n), count: 1 + rng.below(rng.below(50) == 0 ? 2_000 : 3))
                let shared = rng.below(2) == 0
                let got = shared ? map.markShared(range, stamp: 2) : map.markPrivate(range, stamp: 2)
                let want = shared ? ref.markShared(range, stamp: 2) : ref.markPrivate(range, stamp: 2)
                guard got == want else { Issue.record("\(context) churn \(op): returned \(got), reference \(want)"); return }
                guard compare(map, ref, &rng, universe: [PageRange(lower: 0, upper: 8 * n)], full: op % 500 == 499,
                              context: "\(context) churn \(op)") else { return }
            }
            #expect(map.markPrivate(PageRange(lower: 0, upper: PageRange.maxPage), stamp: 3) == ref.pages)
            #expect(map.isEmpty)
            map.checkInvariants()
        }
    }

    /// Operations near page 0 and near `PageRange.maxPage`, with ranges spanning the whole space.
    @Test(arguments: [31 as UInt64, 32, 33])
    func endsOfTheAddressSpace(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let low = PageRange(lower: 0, upper: 200)
        let high = PageRange(lower: PageRange.maxPage - 200, upper: PageRange.maxPage)
        var map = SharedRegionMap()
        var ref = NaiveRegions()
        var lowTruth = PageBits(base: low.lower, bits: Array(repeating: false, count: 200))
        var highTruth = PageBits(base: high.lower, bits: Array(repeating: false, count: 200))
        func edge() -> UInt64 {
            switch rng.below(10) {
            case 0: return 0
            case 1: return PageRange.maxPage
            case 2...5: return rng.below(201)
            default: return PageRange.maxPage - rng.below(201)
            }
        }
        for op in 0..<4_000 {
            let a = edge(), b = rng.below(3) == 0 ? edge() : min(PageRange.maxPage, a + 1 + rng.below(4))
            let range = PageRange(lower: min(a, b), upper: max(a, b))
            let shared = rng.below(2) == 0
            let got = shared ? map.markShared(range, stamp: UInt32(op)) : map.markPrivate(range, stamp: UInt32(op))
            let want = shared ? ref.markShared(range, stamp: UInt32(op)) : ref.markPrivate(range, stamp: UInt32(op))
            _ = lowTruth.set(range, shared: shared)
            _ = highTruth.set(range, shared: shared)
            guard got == want else { Issue.record("seed \(seed) op \(op): returned \(got), reference \(want)"); return }
            let refLow = ref.regions.map { $0.pages.clamped(to: low) }.filter { !$0.isEmpty }
            let refHigh = ref.regions.map { $0.pages.clamped(to: high) }.filter { !$0.isEmpty }
            guard refLow == lowTruth.runs, refHigh == highTruth.runs else {
                Issue.record("seed \(seed) op \(op): reference disagrees with the per-page truth"); return
            }
            guard compare(map, ref, &rng, universe: [low, high], full: true, context: "seed \(seed) op \(op)") else { return }
        }
    }

    @Test func wholeSpace() {
        var map = SharedRegionMap()
        let all = PageRange(lower: 0, upper: PageRange.maxPage)
        #expect(map.markShared(PageRange(lower: PageRange.maxPage - 1, upper: PageRange.maxPage), stamp: 1) == 1)
        #expect(map.markShared(PageRange(lower: 0, upper: 1), stamp: 2) == 1)
        #expect(map.region(containing: PageRange.maxPage - 1)?.pages == PageRange(lower: PageRange.maxPage - 1, upper: PageRange.maxPage))
        #expect(map.region(containing: PageRange.maxPage) == nil)
        #expect(map.region(containing: .max) == nil)
        #expect(map.index(ofFirstRegionEndingAfter: 0) == 0)
        #expect(map.index(ofFirstRegionEndingAfter: PageRange.maxPage - 2) == 1)
        #expect(map.index(ofFirstRegionEndingAfter: PageRange.maxPage - 1) == 1)
        #expect(map.index(ofFirstRegionEndingAfter: PageRange.maxPage) == 2)
        #expect(map.markShared(all, stamp: 3) == PageRange.maxPage - 2)
        #expect(map.count == 1 && map.sharedPages == PageRange.maxPage)
        #expect(map.region(at: 0) == SharedRegion(pages: all, firstShared: 1, lastChange: 3))
        #expect(map.sharedPages(in: all) == PageRange.maxPage)
        let cells = map.sharedPagesPerCell(span: all, cells: 3)
        #expect(cells == [PageRange.maxPage / 3, PageRange.maxPage / 3, PageRange.maxPage - 2 * (PageRange.maxPage / 3)])
        #expect(map.markPrivate(PageRange(lower: 1, upper: PageRange.maxPage - 1), stamp: 4) == PageRange.maxPage - 2)
        #expect(map.allRegions.map(\.pages) == [PageRange(lower: 0, upper: 1), PageRange(lower: PageRange.maxPage - 1, upper: PageRange.maxPage)])
        #expect(map.markPrivate(all, stamp: 5) == 2)
        #expect(map.isEmpty)
        map.checkInvariants()
    }

    @Test func stamps() {
        var map = SharedRegionMap()
        map.markShared(PageRange(lower: 10, upper: 20), stamp: 5)
        map.markShared(PageRange(lower: 30, upper: 40), stamp: 3)
        // Already shared: nothing changes, stamps included.
        #expect(map.markShared(PageRange(lower: 12, upper: 18), stamp: 9) == 0)
        #expect(map.region(containing: 15) == SharedRegion(pages: PageRange(lower: 10, upper: 20), firstShared: 5, lastChange: 5))
        // Growing keeps firstShared and moves lastChange.
        #expect(map.markShared(PageRange(lower: 20, upper: 22), stamp: 6) == 2)
        #expect(map.region(containing: 10) == SharedRegion(pages: PageRange(lower: 10, upper: 22), firstShared: 5, lastChange: 6))
        // Merging takes the smallest firstShared of the parts (the new range's stamp included).
        #expect(map.markShared(PageRange(lower: 22, upper: 30), stamp: 7) == 8)
        #expect(map.allRegions == [SharedRegion(pages: PageRange(lower: 10, upper: 40), firstShared: 3, lastChange: 7)])
        #expect(map.markShared(PageRange(lower: 5, upper: 10), stamp: 1) == 5)
        #expect(map.region(at: 0) == SharedRegion(pages: PageRange(lower: 5, upper: 40), firstShared: 1, lastChange: 1))
        // Splitting keeps firstShared in both pieces and stamps them.
        #expect(map.markPrivate(PageRange(lower: 20, upper: 25), stamp: 8) == 5)
        #expect(map.allRegions == [SharedRegion(pages: PageRange(lower: 5, upper: 20), firstShared: 1, lastChange: 8),
                                   SharedRegion(pages: PageRange(lower: 25, upper: 40), firstShared: 1, lastChange: 8)])
        // Marking private pages private changes nothing.
        #expect(map.markPrivate(PageRange(lower: 20, upper: 25), stamp: 9) == 0)
        #expect(map.markPrivate(PageRange(lower: 0, upper: 5), stamp: 9) == 0)
        #expect(map.region(at: 1).lastChange == 8)
        // Shrinking stamps the region.
        #expect(map.markPrivate(PageRange(lower: 35, upper: 50), stamp: 10) == 5)
        #expect(map.region(at: 1) == SharedRegion(pages: PageRange(lower: 25, upper: 35), firstShared: 1, lastChange: 10))
        // Empty ranges are no-ops.
        #expect(map.markShared(PageRange(lower: 20, upper: 20), stamp: 11) == 0)
        #expect(map.markPrivate(PageRange(lower: 30, upper: 30), stamp: 11) == 0)
        #expect(map.count == 2)
        map.checkInvariants()
    }

    /// A hostile guest alternating pages: the map stays within the cap as a superset of the truth.
    @Test(arguments: [1, 8, 64, 200])
    func regionCap(cap: Int) {
        var rng = SplitMix64(seed: UInt64(cap))
        var map = SharedRegionMap(regionCap: cap)
        var truth = PageBits(base: 0, bits: Array(repeating: false, count: 4_000))
        func isSuperset() -> Bool {
            for run in truth.runs where map.sharedPages(in: run) != run.count { return false }
            return true
        }
        for p in stride(from: 0 as UInt64, to: 4_000, by: 2) {
            map.markShared(PageRange(first: p, count: 1), stamp: UInt32(p))
            _ = truth.set(PageRange(first: p, count: 1), shared: true)
            #expect(map.count <= cap)
        }
        #expect(map.isApproximate)
        #expect(map.peakCount == cap + 1)
        #expect(map.allRegions.contains { $0.isApproximate })
        #expect(isSuperset())
        map.checkInvariants()
        for op in 0..<3_000 {
            let range = randomRange(&rng, in: PageRange(lower: 0, upper: 4_000))
            let shared = rng.below(2) == 0
            if shared { map.markShared(range, stamp: UInt32(op)) } else { map.markPrivate(range, stamp: UInt32(op)) }
            _ = truth.set(range, shared: shared)
            guard map.count <= cap else { Issue.record("cap \(cap) op \(op): \(map.count) regions"); return }
            if op % 100 == 0 {
                map.checkInvariants()
                guard isSuperset() else { Issue.record("cap \(cap) op \(op): not a superset of the truth"); return }
                guard topKMatchesAFullSort(map, map.allRegions, context: "cap \(cap) op \(op)") else { return }
            }
        }
        #expect(isSuperset())
        #expect(map.allocatedBytes <= 4 * 1_600 * ((cap + 31) / 32 + 1), "memory grows with the cap, not with the operations")
        map.checkInvariants()
    }

    @Test func capMergesTheSmallestGapBesideTheChange() {
        var map = SharedRegionMap(regionCap: 3)
        map.markShared(PageRange(lower: 0, upper: 1), stamp: 1)
        map.markShared(PageRange(lower: 10, upper: 11), stamp: 2)
        map.markShared(PageRange(lower: 100, upper: 101), stamp: 3)
        #expect(!map.isApproximate)
        // The new region at 13 is 2 pages from 10..<11 and 87 from 100..<101.
        #expect(map.markShared(PageRange(lower: 13, upper: 14), stamp: 4) == 1)
        #expect(map.isApproximate)
        #expect(map.allRegions == [
            SharedRegion(pages: PageRange(lower: 0, upper: 1), firstShared: 1, lastChange: 1),
            SharedRegion(pages: PageRange(lower: 10, upper: 14), isApproximate: true, firstShared: 2, lastChange: 4),
            SharedRegion(pages: PageRange(lower: 100, upper: 101), firstShared: 3, lastChange: 3),
        ])
        // Splitting 10..<14 at 11..<12 would make 4 regions: the 1-page gap just carved is the smallest.
        #expect(map.markPrivate(PageRange(lower: 11, upper: 12), stamp: 5) == 1)
        #expect(map.count == 3 && map.region(at: 1).pages == PageRange(lower: 10, upper: 14))
        map.checkInvariants()
    }

    @Test func copyOnWrite() {
        var original = SharedRegionMap()
        for i in 0..<5_000 as Range<UInt64> { original.markShared(PageRange(first: 4 * i, count: 2), stamp: 1) }
        let snapshot = original.allRegions
        var copy = original
        for i in 0..<5_000 as Range<UInt64> { copy.markPrivate(PageRange(first: 8 * i, count: 1), stamp: 2) }
        copy.markShared(PageRange(lower: 0, upper: 100), stamp: 3)
        #expect(original.allRegions == snapshot)
        #expect(original.sharedPages == 10_000)
        #expect(copy.sharedPages != original.sharedPages)
        original.checkInvariants()
        copy.checkInvariants()
        #expect(topKMatchesAFullSort(original, snapshot, context: "original"))
        #expect(topKMatchesAFullSort(copy, copy.allRegions, context: "copy"))
        // Iterating while mutating sees the map as it was when the iteration began.
        var seen = 0
        for region in original {
            if seen == 0 { original.markPrivate(PageRange(lower: 0, upper: PageRange.maxPage), stamp: 4) }
            #expect(region == snapshot[seen])
            seen += 1
        }
        #expect(seen == snapshot.count && original.isEmpty)
    }

    /// Random stamps (many equal, so ties go to the address), cap merges and copies that diverge:
    /// the top-k queries equal a full sort after every operation, on the map and on its copies.
    @Test(arguments: [51 as UInt64, 52, 53])
    func topKQueriesMatchAFullSort(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let window = PageRange(lower: 0, upper: 6_000)
        var map = SharedRegionMap(regionCap: 250)  // a two-level tree
        var copies: [SharedRegionMap] = []
        for op in 0..<2_000 {
            let range = rng.below(200) == 0 ? randomRange(&rng, in: window) : PageRange(first: rng.below(window.count), count: 1 + rng.below(2))
            let stamp = UInt32(rng.below(40))
            if rng.below(100) < 60 { map.markShared(range, stamp: stamp) } else { map.markPrivate(range, stamp: stamp) }
            if rng.below(200) == 0 { copies.append(map) }
            if !copies.isEmpty && rng.below(4) == 0 {
                let c = Int(rng.below(UInt64(copies.count)))
                let r = randomRange(&rng, in: window)
                if rng.below(2) == 0 { copies[c].markShared(r, stamp: stamp) } else { copies[c].markPrivate(r, stamp: stamp) }
            }
            if op % 8 == 0 || map.count == map.regionCap {
                guard topKMatchesAFullSort(map, map.allRegions, context: "seed \(seed) op \(op)") else { return }
            }
        }
        #expect(map.isApproximate, "the test should hit the cap")
        map.checkInvariants()
        for (c, copy) in copies.enumerated() {
            copy.checkInvariants()
            guard topKMatchesAFullSort(copy, copy.allRegions, context: "seed \(seed) copy \(c)") else { return }
        }
        #expect(map.largestRegions(-1).isEmpty && SharedRegionMap().oldestRegions(3).isEmpty)
    }

    /// A deep tree (three levels) built in random order, with random stamps.
    @Test func topKQueriesOnADeepTree() {
        var rng = SplitMix64(seed: 61)
        var map = SharedRegionMap()
        var order = Array(0..<40_000 as Range<UInt64>)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
        for i in order { map.markShared(PageRange(first: 100 * i, count: 1 + rng.below(90)), stamp: UInt32(rng.below(5_000))) }
        for _ in 0..<2_000 {
            let p = rng.below(4_000_000)
            map.markPrivate(PageRange(first: p, count: 1 + rng.below(3)), stamp: UInt32(rng.below(5_000)))
        }
        map.checkInvariants()
        let regions = map.allRegions
        #expect(topKMatchesAFullSort(map, regions, context: "deep tree"))
        for k in [80, 500, 3_000] {
            #expect(map.largestRegions(k) == Array(regions.sorted(by: largestFirst).prefix(k)))
            #expect(map.oldestRegions(k) == Array(regions.sorted(by: oldestFirst).prefix(k)))
        }
    }

    @Test func sharedPagesPerCellEdgeCases() {
        var map = SharedRegionMap()
        map.markShared(PageRange(lower: 2, upper: 5), stamp: 1)
        #expect(map.sharedPagesPerCell(span: PageRange(lower: 0, upper: 10), cells: 0) == [])
        #expect(map.sharedPagesPerCell(span: PageRange(lower: 0, upper: 4), cells: 6) == [0, 0, 1, 1, 0, 0])
        #expect(map.sharedPagesPerCell(span: PageRange(lower: 0, upper: 10), cells: 3) == [1, 2, 0])
        #expect(map.sharedPagesPerCell(span: PageRange(lower: 3, upper: 3), cells: 2) == [0, 0])
        #expect(SharedRegionMap().sharedPagesPerCell(span: PageRange(lower: 0, upper: 10), cells: 2) == [0, 0])
    }
}
