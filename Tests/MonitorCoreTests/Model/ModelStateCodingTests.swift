import Foundation
import Testing
@testable import MonitorCore

/// Snapshot -> restore gives the same model: same answers now, same answers after the same
/// further events. The map's bulk load builds a valid tree for every size.
@Suite struct ModelStateCodingTests {
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    static func restored(_ m: Monitor) throws -> Monitor {
        try decoder().decode(Monitor.self, from: try encoder().encode(m))
    }

    /// Everything a model answers, as text (NaN-safe comparison), except the map's node memory,
    /// which depends on how the tree was built.
    static func answers(_ m: Monitor) -> [String] {
        let s = m.snapshot()
        var cost = s.trackingCost
        cost.mapMemoryBytes = 0
        var totals = m.totals
        totals.rejectedByReason = [:]  // a dictionary prints in no fixed order: compared sorted
        let reasons = m.totals.rejectedByReason.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }
        return [
            "\(m.regions.allRegions)", "\(m.regions.isApproximate) \(m.regions.peakCount) \(m.regions.sharedPages)",
            "\(totals) \(reasons)", "\(m.origin as Any) \(m.now) \(m.observedSpan as Any) \(m.guestSpan)",
            "\(s.rates)", "\(s.history)", "\(s.mostFlipped)", "\(m.churn.flippedBuffers())", "\(s.poolWhatIf)",
            "\(m.churn.trackedBuffers) \(m.churn.totalFlips) \(m.churn.totalFlippedPages) \(m.churn.prunedUnflipped)",
            "\(m.migration.latest as Any)", "\(m.migration.passes)", "\(m.layout as Any)", "\(s.counters)",
            "\(m.lastMarker as Any)", "\(m.recentChanges(within: .infinity))", "\(cost)",
            MonitorSummary.json(s, source: SourceStatus(kind: .replay, name: "r")).serialized(),
        ]
    }

    /// Compares answer by answer, so a failure names the one that differs.
    static func expectSame(_ a: Monitor, _ b: Monitor, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for (i, (x, y)) in zip(answers(a), answers(b)).enumerated() where x != y {
            Issue.record("\(label): answer \(i) differs:\n\(x.prefix(800))\n\(y.prefix(800))", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [(seed: UInt64(1), cap: 1_000_000), (2, 40), (3, 1_000_000), (4, 7)])
    func snapshotRestoreBehavesAsTheOriginal(seed: UInt64, cap: Int) throws {
        var gen = ExtremeEventPropertyTests.Generator(rng: SplitMix64(seed: seed))
        var configuration = MonitorConfiguration()
        configuration.regionCap = cap
        configuration.recentChangeLimit = 16
        var original = Monitor(configuration: configuration)
        for _ in 0..<800 { original.apply(gen.event()) }
        var copy = try Self.restored(original)
        Self.expectSame(copy, original, "restored")
        copy.regions.checkInvariants()
        // The same future: more events, an idle stretch, a rate reset, more events.
        for round in 0..<3 {
            for _ in 0..<300 {
                let e = gen.event()
                original.apply(e)
                copy.apply(e)
            }
            let idle = gen.time()
            original.advance(to: idle)
            copy.advance(to: idle)
            if round == 1 { original.resetRates(); copy.resetRates() }
            Self.expectSame(copy, original, "round \(round)")
        }
        // And a restore of a restore is the same again.
        Self.expectSame(try Self.restored(copy), original, "restored twice")
    }

    @Test func corruptStateIsRefusedNotTrapped() throws {
        var m = Monitor()
        m.apply(.conversion(Conversion(time: 1, pages: PageRange(first: 0x10, count: 4), direction: .toShared, path: .hypercall)))
        m.apply(.conversion(Conversion(time: 2, pages: PageRange(first: 0x20, count: 4), direction: .toShared, path: .hypercall)))
        let json = String(decoding: try Self.encoder().encode(m), as: UTF8.self)
        func refused(_ from: String, _ to: String) {
            #expect(json.contains(from), "fixture lacks \(from)")
            let bad = json.replacingOccurrences(of: from, with: to)
            #expect(throws: DecodingError.self, "\(to)") { _ = try Self.decoder().decode(Monitor.self, from: Data(bad.utf8)) }
        }
        refused("\"version\":1", "\"version\":2")
        refused("[16,20]", "[40,20]")                       // a range upside down
        refused("[32,36]", "[12,36]")                       // overlapping regions
        refused("[32,36]", "[20,36]")                       // touching regions
        refused("\"regionCap\":1000000", "\"regionCap\":1")  // more regions than the cap
        refused("\"historySeconds\":600", "\"historySeconds\":5")
        refused("\"recentHead\":0", "\"recentHead\":7")
        refused("\"now\":2", "\"now\":\"inf\"")
    }

    // MARK: bulk load

    @Test(arguments: [0, 1, 63, 64, 65, 129, 2_048, 2_049, 70_000])
    func bulkLoadMatchesTheIncrementalMap(regions n: Int) throws {
        var rng = SplitMix64(seed: UInt64(n) &+ 11)
        var incremental = SharedRegionMap()
        var page: UInt64 = 0
        for k in 0..<n {
            page += 1 + rng.below(50)
            let length = 1 + rng.below(20)
            incremental.markShared(PageRange(first: page, count: length), stamp: UInt32(k))
            page += length
        }
        #expect(incremental.count == n)
        var loaded = try SharedRegionMap(regions: incremental.allRegions, regionCap: incremental.regionCap,
                                         isApproximate: incremental.isApproximate, peakCount: incremental.peakCount)
        loaded.checkInvariants()
        #expect(loaded.allRegions == incremental.allRegions)
        #expect(loaded.sharedPages == incremental.sharedPages)
        for _ in 0..<200 {
            let probe = rng.below(page + 10)
            #expect(loaded.region(containing: probe) == incremental.region(containing: probe))
            let window = PageRange(first: probe, count: rng.below(5_000))
            #expect(loaded.sharedPages(in: window) == incremental.sharedPages(in: window))
        }
        #expect(loaded.largestRegions(5) == incremental.largestRegions(5))
        #expect(loaded.oldestRegions(5) == incremental.oldestRegions(5))
        // Both go on the same way.
        for _ in 0..<2_000 {
            let r = PageRange(first: rng.below(page + 10), count: 1 + rng.below(100))
            let shared = rng.below(2) == 0
            let a = shared ? loaded.markShared(r, stamp: 9) : loaded.markPrivate(r, stamp: 9)
            let b = shared ? incremental.markShared(r, stamp: 9) : incremental.markPrivate(r, stamp: 9)
            #expect(a == b)
        }
        loaded.checkInvariants()
        #expect(loaded.allRegions == incremental.allRegions)
    }

    @Test func bulkLoadRefusesBadInput() {
        func region(_ lo: UInt64, _ hi: UInt64, approximate: Bool = false) -> SharedRegion {
            SharedRegion(pages: PageRange(lower: lo, upper: hi), isApproximate: approximate)
        }
        #expect(throws: SharedRegionMapLoadError.outOfOrder(index: 1)) { try SharedRegionMap(regions: [region(10, 20), region(5, 8)]) }
        #expect(throws: SharedRegionMapLoadError.outOfOrder(index: 1)) { try SharedRegionMap(regions: [region(10, 20), region(20, 30)]) }
        #expect(throws: SharedRegionMapLoadError.emptyRegion(index: 0)) { try SharedRegionMap(regions: [region(10, 10)]) }
        #expect(throws: SharedRegionMapLoadError.overCap(count: 2, regionCap: 1)) { try SharedRegionMap(regions: [region(1, 2), region(3, 4)], regionCap: 1) }
        #expect(throws: SharedRegionMapLoadError.badRegionCap(0)) { try SharedRegionMap(regions: [], regionCap: 0) }
        #expect(throws: SharedRegionMapLoadError.approximateRegionInExactMap(index: 0)) {
            try SharedRegionMap(regions: [region(1, 2, approximate: true)])
        }
        #expect((try? SharedRegionMap(regions: [region(1, 2, approximate: true)], isApproximate: true))?.isApproximate == true)
    }
}
