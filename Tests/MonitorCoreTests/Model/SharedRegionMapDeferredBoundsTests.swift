import Testing
@testable import MonitorCore

/// A run of updates with the top-k bounds deferred (`deferBounds(forUpdates:)`, what the batch
/// replay does for a small map) must end in the map the same updates make one by one: the same
/// regions, the same top-k answers and bounds that `checkInvariants` accepts. Runs cross leaves,
/// split, merge and rebalance nodes, and hit the region cap.
@Suite struct SharedRegionMapDeferredBoundsTests {
    static let cases: [(seed: UInt64, cap: Int)] = [(81, SharedRegionMap.defaultRegionCap), (82, SharedRegionMap.defaultRegionCap), (83, 900)]

    @Test(arguments: 0..<3)
    func deferredRunsMatchPerUpdateBounds(index: Int) {
        let (seed, cap) = Self.cases[index]
        var rng = SplitMix64(seed: seed)
        var deferred = SharedRegionMap(regionCap: cap)
        var direct = SharedRegionMap(regionCap: cap)
        var stamp: UInt32 = 1
        var runsDeferred = 0
        for run in 0..<60 {
            // Runs of 1 to 2,000 updates: long runs defer, short ones over a big map do not.
            let length = 1 + Int(rng.below(run % 3 == 0 ? 2_000 : 40))
            deferred.prepareForUpdates()
            let wasDeferred = deferred.deferBounds(forUpdates: length)
            if wasDeferred { runsDeferred += 1 }
            for _ in 0..<length {
                let lo = rng.below(600_000)
                let range = PageRange(lower: lo, upper: lo + 1 + rng.below(rng.below(50) == 0 ? 3_000 : 12))
                let shared = rng.below(2) == 0
                stamp &+= UInt32(rng.below(3))
                let got = shared ? deferred.markShared(range, stamp: stamp, treeIsUnique: true)
                    : deferred.markPrivate(range, stamp: stamp, treeIsUnique: true)
                let want = shared ? direct.markShared(range, stamp: stamp) : direct.markPrivate(range, stamp: stamp)
                guard got == want else {
                    Issue.record("seed \(seed) run \(run): \(shared ? "markShared" : "markPrivate")(\(range.lower)..<\(range.upper)) returned \(got), per-update \(want)")
                    return
                }
            }
            if wasDeferred { deferred.endDeferredBounds() }
            deferred.checkInvariants()
            guard deferred.allRegions == direct.allRegions else { Issue.record("seed \(seed) run \(run): regions differ"); return }
            for k in [1, 7, 100] {
                guard deferred.largestRegions(k) == direct.largestRegions(k),
                      deferred.oldestRegions(k) == direct.oldestRegions(k) else {
                    Issue.record("seed \(seed) run \(run): top \(k) differs")
                    return
                }
            }
        }
        // Both kinds of run happened, and the maps grew to trees with inner levels.
        #expect(runsDeferred > 5 && runsDeferred < 60)
        #expect(deferred.count > 1_000 || deferred.peakCount > cap, "count \(deferred.count)")
    }

    /// The model's batch path defers the bounds for long runs into a small map: its top-k answers
    /// after each batch are those of the same conversions applied one by one.
    @Test func batchesIntoASmallModelKeepTheTopKAnswers() {
        var rng = SplitMix64(seed: 84)
        var batched = Monitor()
        var single = Monitor()
        var time = 100.0
        for round in 0..<8 {
            var batch = TraceEventBatch()
            for _ in 0..<(round == 3 ? 5 : 3_000) {
                time += Double(rng.below(1_000)) / 1e5
                let slot = rng.below(1_500)
                let record = ConversionRecord(time: time, pages: PageRange(first: 64 * slot, count: 1 + rng.below(16)),
                                              direction: rng.below(2) == 0 ? .toShared : .toPrivate, path: .hypercall)
                batch.append(record)
                single.apply(.conversion(Conversion(time: record.time, pages: record.pages, direction: record.direction,
                                                    path: .hypercall)))
            }
            batched.apply(batch)
            batched.regions.checkInvariants()
            #expect(batched.regions.allRegions == single.regions.allRegions, "round \(round)")
            #expect(batched.regions.largestRegions(10) == single.regions.largestRegions(10), "round \(round)")
            #expect(batched.regions.oldestRegions(10) == single.regions.oldestRegions(10), "round \(round)")
        }
        #expect(batched.regions.count > 300)
    }
}
