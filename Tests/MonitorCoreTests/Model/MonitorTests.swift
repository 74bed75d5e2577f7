import Testing
@testable import MonitorCore

private func conv(_ t: Double, _ first: UInt64, _ n: UInt64, _ d: ConversionDirection) -> MonitorEvent {
    .conversion(Conversion(time: t, pages: PageRange(first: first, count: n), direction: d, path: .hypercall))
}

@Suite struct MonitorTests {
    @Test func conversionsBuildTheSharedSet() {
        var m = Monitor()
        m.apply([conv(10, 0x100, 4, .toShared), conv(10.5, 0x104, 4, .toShared), conv(11, 0x102, 1, .toPrivate)])
        #expect(m.regions.allRegions.map(\.pages) == [PageRange(lower: 0x100, upper: 0x102), PageRange(lower: 0x103, upper: 0x108)])
        #expect(m.totals.conversions == 3)
        #expect(m.totals.toShared == 2 && m.totals.toPrivate == 1)
        #expect(m.totals.pagesChanged == 9)
        #expect(m.origin == 10 && m.now == 11)
    }

    @Test func rejectedHypercallsLeaveTheMapAlone() {
        var m = Monitor()
        m.apply(conv(1, 0x10, 1, .toShared))
        for (gpa, n) in [(UInt64(0x20001), UInt64(1)), (0x20000, 0), (0x1000, UInt64.max)] {
            m.apply(MapGPARangeRequest(gpa: gpa, pageCount: n, attributes: 0).event(time: 2, path: .hypercall))
        }
        #expect(m.totals.rejected == 3)
        #expect(m.regions.sharedPages == 1)
        #expect(m.totals.rejectedByReason[.unalignedAddress] == 1)
    }

    @Test func ratesUseEventTimeWindows() {
        var m = Monitor()
        // 10 conversions per second for 60 s, one page each.
        for s in 0..<60 {
            for k in 0..<10 { m.apply(conv(100 + Double(s) + Double(k) / 10, UInt64(s * 10 + k), 1, .toShared)) }
        }
        let snap = m.snapshot()
        #expect(snap.rates.map(\.window) == [1, 10, 60])
        for f in snap.rates { #expect(abs(f.callsToShared - 10) < 0.001, "window \(f.window): \(f.callsToShared)") }
        // A quiet minute later the short windows fall to zero.
        m.advance(to: 200)
        let later = m.snapshot()
        #expect(later.rates[0].calls == 0 && later.rates[1].calls == 0)
        #expect(later.history.count == 600)
        #expect(later.history.reduce(0) { $0 + $1.callsToShared } == 600)
    }

    @Test func flipsAreBuffersSharedAndPrivateAgainWithinTheWindow() {
        var m = Monitor()
        for i in 0..<5 {
            let t = Double(i)
            m.apply(conv(t, 0x500, 1, .toShared))
            m.apply(conv(t + 0.01, 0x500, 1, .toPrivate))
        }
        // Shared long ago then made private: not a flip.
        m.apply(conv(10, 0x900, 8, .toShared))
        m.apply(conv(100, 0x900, 8, .toPrivate))
        let s = m.snapshot()
        #expect(s.totalFlips == 5)
        #expect(s.mostFlipped.first?.pages == PageRange(first: 0x500, count: 1))
        #expect(s.mostFlipped.first?.flips == 5)
        #expect(s.flipIndex.flips(in: PageRange(lower: 0x400, upper: 0x600)) == 5)
        #expect(s.flipIndex.flips(in: PageRange(lower: 0x501, upper: 0x600)) == 0)
        // Each flip could have come from even the smallest pool: two conversions avoided per flip.
        #expect(s.poolWhatIf.first?.conversionsAvoided == 10)
    }

    @Test func trackingCostComparesBitmapAndRangeList() {
        var m = Monitor()
        m.apply(.layout(GuestLayout(time: 0, ranges: [GuestLayoutRange(pages: PageRange(lower: 0, upper: 1 << 20), kind: .ram, name: "ram")])))
        for i in 0..<100 { m.apply(conv(1, UInt64(i) * 2, 1, .toShared)) }
        let c = m.trackingCost
        #expect(c.bitmapBytes == (1 << 20) / 8)
        #expect(c.rangeListBytes == 100 * 16)
        #expect(c.peakRegions == 100)
    }

    @Test func migrationPassesCompareWithTheLastSync() {
        var m = Monitor()
        func progress(_ t: Double, pass: Int) -> MonitorEvent {
            .migrationProgress(MigrationProgress(time: t, status: .active, pass: pass, ramTransferredBytes: 0,
                                                 ramRemainingBytes: 0, ramTotalBytes: 1 << 30,
                                                 dirtyPagesPerSecond: 0, bandwidthBytesPerSecond: 1e9))
        }
        m.apply(conv(0, 0, 10, .toShared))
        m.apply(progress(1, pass: 1))
        m.apply(conv(2, 5, 10, .toPrivate))   // pages 5..9 change
        m.apply(conv(2, 100, 3, .toShared))   // 3 more
        m.apply(progress(3, pass: 1))         // same pass: no resync
        m.apply(progress(4, pass: 2))
        #expect(m.migration.passes.map(\.pass) == [1, 2])
        #expect(m.migration.passes.map(\.observedStateChanges) == [0, 8])
    }

    @Test func symmetricDifferenceMatchesAPerPageModel() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<50 {
            var a = SharedRegionMap(), b = SharedRegionMap()
            var sa = Set<UInt64>(), sb = Set<UInt64>()
            for _ in 0..<30 {
                let lo = rng.next() % 200, n = 1 + rng.next() % 20, shared = rng.next() % 3 != 0
                let r = PageRange(first: lo, count: n)
                if rng.next() % 2 == 0 {
                    if shared { a.markShared(r, stamp: 0); sa.formUnion(r.lower..<r.upper) } else { a.markPrivate(r, stamp: 0); sa.subtract(r.lower..<r.upper) }
                } else {
                    if shared { b.markShared(r, stamp: 0); sb.formUnion(r.lower..<r.upper) } else { b.markPrivate(r, stamp: 0); sb.subtract(r.lower..<r.upper) }
                }
            }
            #expect(SharedRegionMap.symmetricDifferencePages(a, b) == UInt64(sa.symmetricDifference(sb).count))
        }
    }

    @Test func countersReportRatesFromMeasuredElapsedTime() {
        var m = Monitor()
        m.apply(.counter(time: 1, name: "hypercalls", value: 100))
        m.apply(.counter(time: 3, name: "hypercalls", value: 500))
        #expect(m.counters["hypercalls"]?.perSecond == 200)
    }
}
