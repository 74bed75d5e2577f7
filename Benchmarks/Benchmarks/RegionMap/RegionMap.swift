// SharedRegionMap updates and window queries at 10^3..10^6 regions, each next to a plain bitmap
// (BenchmarkSupport.PlainBitmap) doing the same operations over the same span in the same
// iteration. Start maps: `n` regions of 8 pages, one every 16 pages (span 16n pages).
import Benchmark
import BenchmarkSupport
import MonitorCore

enum Metric {
    static let updatesPerSecond = BenchmarkMetric.custom("kupdates/s", polarity: .prefersLarger, useScalingFactor: false)
    static let bitmapUpdatesPerSecond = BenchmarkMetric.custom("bitmap kupdates/s", polarity: .prefersLarger, useScalingFactor: false)
    /// Map time / bitmap time for the same work, x100.
    static let bitmapRatio = BenchmarkMetric.custom("time vs bitmap (x100)", polarity: .prefersSmaller, useScalingFactor: false)
    static let bytesPerRegion = BenchmarkMetric.custom("bytes/region", polarity: .prefersSmaller, useScalingFactor: false)
    static let bitmapBytesPerRegion = BenchmarkMetric.custom("bitmap bytes/region", polarity: .prefersSmaller, useScalingFactor: false)
    /// What `LineChase` over a buffer of the map's size allows: one dependent line load per flip
    /// pair (the flip back finds the leaf cached).
    static let floorUpdatesPerSecond = BenchmarkMetric.custom("memory floor kupdates/s", polarity: .prefersLarger, useScalingFactor: false)
    static let microseconds = BenchmarkMetric.custom("query us", polarity: .prefersSmaller, useScalingFactor: false)
    static let bitmapMicroseconds = BenchmarkMetric.custom("bitmap query us", polarity: .prefersSmaller, useScalingFactor: false)
}

let updateMetrics: [BenchmarkMetric] = [
    .wallClock, .mallocCountTotal, Metric.updatesPerSecond, Metric.bitmapUpdatesPerSecond, Metric.bitmapRatio,
    Metric.bytesPerRegion, Metric.bitmapBytesPerRegion,
]
let flipMetrics = updateMetrics + [Metric.floorUpdatesPerSecond]
let queryMetrics: [BenchmarkMetric] = [
    .wallClock, .mallocCountTotal, Metric.microseconds, Metric.bitmapMicroseconds, Metric.bitmapRatio,
    Metric.bytesPerRegion, Metric.bitmapBytesPerRegion,
]

/// Per-benchmark state, built on the first iteration (before `startMeasurement`, so unmeasured).
final class Fixture {
    let regions: Int
    var map: SharedRegionMap
    var bitmap: PlainBitmap
    var rng = SplitMix64(seed: 42)
    /// A `LineChase` as large as the map, made on first use.
    lazy var chase = LineChase(bytes: map.allocatedBytes, seed: 7)

    /// `randomOrder`: the same regions, added in a shuffled order (a busy host's map) instead of by
    /// address; the tree's leaves end up filled differently.
    init(regions: Int, randomOrder: Bool = false) {
        self.regions = regions
        if randomOrder {
            var order = Array(0..<UInt64(regions))
            order.shuffle(using: &rng)
            var m = SharedRegionMap()
            for i in order {
                m.markShared(PageRange(first: i * RegionLayouts.stride, count: RegionLayouts.length), stamp: 1)
            }
            map = m
        } else {
            map = RegionLayouts.regularMap(regions: regions)
        }
        bitmap = RegionLayouts.regularBitmap(regions: regions)
    }

    var span: PageRange { RegionLayouts.span(regions: regions) }

    func pages(_ k: Int) -> [UInt64] {
        let n = span.upper
        return (0..<k).map { _ in rng.next(below: n) }
    }
}

func reportUpdates(_ b: Benchmark, updates: Int, seconds: Double, bitmapSeconds: Double,
                   map: SharedRegionMap, bitmap: PlainBitmap, regions: Int) {
    b.measurement(Metric.updatesPerSecond, Int(Double(updates) / seconds / 1e3))
    b.measurement(Metric.bitmapUpdatesPerSecond, Int(Double(updates) / bitmapSeconds / 1e3))
    b.measurement(Metric.bitmapRatio, Int((seconds / bitmapSeconds * 100).rounded()))
    b.measurement(Metric.bytesPerRegion, map.allocatedBytes / Swift.max(1, map.count))
    b.measurement(Metric.bitmapBytesPerRegion, bitmap.allocatedBytes / Swift.max(1, regions))
}

/// Forces the copy-on-write copy of `m` now (marking an already shared page changes nothing).
func makeUnique(_ m: inout SharedRegionMap) {
    m.markShared(PageRange(first: 0, count: 1), stamp: 1)
}

let sizes = [1_000, 10_000, 100_000, 1_000_000]
let opsPerIteration = 200_000

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: updateMetrics, timeUnits: .milliseconds, warmupIterations: 1,
        maxDuration: .seconds(3), maxIterations: 10
    )

    // The default configuration with the memory floor among the metrics.
    var flipConfiguration = Benchmark.defaultConfiguration
    flipConfiguration.metrics = flipMetrics

    for n in sizes {
        // Random single-page flips: each page flips and flips back (2 updates), so the map keeps
        // its shape across iterations. A page splits, shrinks, creates or merges regions.
        var flips: Fixture?
        Benchmark("RegionMap n=\(n): random single-page flips", configuration: flipConfiguration) { b in
            let f = flips ?? Fixture(regions: n)
            flips = f
            let pages = f.pages(opsPerIteration / 2)
            let bitmapSeconds = timed {
                for p in pages {
                    if f.bitmap.isSet(p) { f.bitmap.clear(p); f.bitmap.set(p) } else { f.bitmap.set(p); f.bitmap.clear(p) }
                }
            }.1
            let chase = f.chase
            let (end, floorSeconds) = timed { chase.run(steps: pages.count) }
            blackHole(end)
            b.measurement(Metric.floorUpdatesPerSecond, Int(Double(pages.count * 2) / floorSeconds / 1e3))
            b.startMeasurement()
            let seconds = timed {
                for p in pages {
                    let r = PageRange(first: p, count: 1)
                    if p % RegionLayouts.stride < RegionLayouts.length {
                        f.map.markPrivate(r, stamp: 2); f.map.markShared(r, stamp: 3)
                    } else {
                        f.map.markShared(r, stamp: 2); f.map.markPrivate(r, stamp: 3)
                    }
                }
            }.1
            b.stopMeasurement()
            if f.map.count != n { b.error("flips changed the region count to \(f.map.count)") }
            reportUpdates(b, updates: pages.count * 2, seconds: seconds, bitmapSeconds: bitmapSeconds,
                          map: f.map, bitmap: f.bitmap, regions: n)
        }

        // Range conversions: 1..64 pages anywhere in the span, to shared or private at random,
        // on a fresh copy of the start map each iteration (the copy is not measured).
        var ranges: Fixture?
        Benchmark("RegionMap n=\(n): random range conversions (1-64 pages)") { b in
            let f = ranges ?? Fixture(regions: n)
            ranges = f
            let ops: [(PageRange, Bool)] = (0..<opsPerIteration).map { _ in
                let len = 1 + f.rng.next(below: 64)
                let lo = f.rng.next(below: f.span.upper - len)
                return (PageRange(first: lo, count: len), f.rng.next(below: 2) == 0)
            }
            var bitmap = f.bitmap
            let bitmapSeconds = timed { for (r, shared) in ops { bitmap.assign(r, shared) } }.1
            var map = f.map
            makeUnique(&map)
            b.startMeasurement()
            let seconds = timed {
                for (r, shared) in ops {
                    if shared { map.markShared(r, stamp: 2) } else { map.markPrivate(r, stamp: 2) }
                }
            }.1
            b.stopMeasurement()
            blackHole(map.count)
            reportUpdates(b, updates: ops.count, seconds: seconds, bitmapSeconds: bitmapSeconds,
                          map: map, bitmap: bitmap, regions: n)
        }

        // Hostile guest: every other page of a 2n-page span made shared one page at a time in
        // random order (n regions, none adjacent), then private again in another order.
        var hostileRNG = SplitMix64(seed: 99)
        Benchmark("RegionMap n=\(n): hostile alternating pages (n shared, n private)") { b in
            var order = Array(0..<UInt64(n))
            order.shuffle(using: &hostileRNG)
            var undo = order
            undo.shuffle(using: &hostileRNG)
            var bitmap = PlainBitmap(pages: 2 * UInt64(n))
            let bitmapSeconds = timed {
                for i in order { bitmap.set(2 * i) }
                for i in undo { bitmap.clear(2 * i) }
            }.1
            var map = SharedRegionMap()
            var peakBytes = 0
            b.startMeasurement()
            let seconds = timed {
                for i in order { map.markShared(PageRange(first: 2 * i, count: 1), stamp: 1) }
                peakBytes = map.allocatedBytes
                for i in undo { map.markPrivate(PageRange(first: 2 * i, count: 1), stamp: 2) }
            }.1
            b.stopMeasurement()
            if !map.isEmpty || map.peakCount != n { b.error("hostile run ended with \(map.count) regions, peak \(map.peakCount)") }
            b.measurement(Metric.updatesPerSecond, Int(Double(2 * n) / seconds / 1e3))
            b.measurement(Metric.bitmapUpdatesPerSecond, Int(Double(2 * n) / bitmapSeconds / 1e3))
            b.measurement(Metric.bitmapRatio, Int((seconds / bitmapSeconds * 100).rounded()))
            b.measurement(Metric.bytesPerRegion, peakBytes / n)
            b.measurement(Metric.bitmapBytesPerRegion, bitmap.allocatedBytes / n)
        }

        // Window query: 20,000 cells (a 250x80 map panel) over the whole span, on the start map
        // built in address order and on the same regions added in random order.
        for randomOrder in [false, true] {
            var query: Fixture?
            Benchmark("RegionMap n=\(n): sharedPagesPerCell(cells: 20000)\(randomOrder ? ", map built in random order" : "")",
                      configuration: .init(metrics: queryMetrics, timeUnits: .microseconds, warmupIterations: 3,
                                           maxDuration: .seconds(2), maxIterations: 200)) { b in
                let f = query ?? Fixture(regions: n, randomOrder: randomOrder)
                query = f
                let (expected, bitmapSeconds) = timed { f.bitmap.setPagesPerCell(span: f.span, cells: 20_000) }
                b.startMeasurement()
                let (cells, seconds) = timed { f.map.sharedPagesPerCell(span: f.span, cells: 20_000) }
                b.stopMeasurement()
                if cells != expected { b.error("sharedPagesPerCell disagrees with the bitmap") }
                b.measurement(Metric.microseconds, Int((seconds * 1e6).rounded()))
                b.measurement(Metric.bitmapMicroseconds, Int((bitmapSeconds * 1e6).rounded()))
                b.measurement(Metric.bitmapRatio, Int((seconds / bitmapSeconds * 100).rounded()))
                b.measurement(Metric.bytesPerRegion, f.map.allocatedBytes / f.map.count)
                b.measurement(Metric.bitmapBytesPerRegion, f.bitmap.allocatedBytes / n)
            }
        }
    }
}
