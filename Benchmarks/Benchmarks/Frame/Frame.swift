// One full screen (all panels) at 250x80 for a 1 TiB guest with a million shared regions, next
// to the same frame of an empty monitor, timed in the same iteration.
import Benchmark
import BenchmarkSupport
import MonitorCore
import MonitorView

enum Metric {
    static let microseconds = BenchmarkMetric.custom("frame us", polarity: .prefersSmaller, useScalingFactor: false)
    static let emptyMicroseconds = BenchmarkMetric.custom("empty frame us", polarity: .prefersSmaller, useScalingFactor: false)
    /// Frame time / empty-monitor frame time, x100.
    static let emptyRatio = BenchmarkMetric.custom("time vs empty frame (x100)", polarity: .prefersSmaller, useScalingFactor: false)
    static let regions = BenchmarkMetric.custom("regions", polarity: .prefersSmaller, useScalingFactor: false)
    static let bytesPerRegion = BenchmarkMetric.custom("bytes/region", polarity: .prefersSmaller, useScalingFactor: false)
    static let mapMegabytes = BenchmarkMetric.custom("map allocated MB", polarity: .prefersSmaller, useScalingFactor: false)
}

let width = 250, height = 80
let frameMetrics: [BenchmarkMetric] = [
    .wallClock, .mallocCountTotal, .peakMemoryResident,
    Metric.microseconds, Metric.emptyMicroseconds, Metric.emptyRatio, Metric.regions, Metric.bytesPerRegion, Metric.mapMegabytes,
]

/// The big guest's snapshot and the empty one, built once per benchmark process (unmeasured).
final class Guests {
    let big: MonitorSnapshot
    let empty: MonitorSnapshot
    let bigStatus = SourceStatus(kind: .replay, name: "busy-host.trace", position: "line 1000000", lines: 1_000_000, finished: true)
    let emptyStatus = SourceStatus(kind: .replay, name: "empty.trace")
    let monitor: Monitor
    init() {
        monitor = FrameGuest.monitor(regions: 1_000_000)
        big = monitor.snapshot()
        empty = Monitor().snapshot()
    }
}

func emptyFrameSeconds(_ g: Guests, _ state: ViewState) -> Double {
    // Best of 3: the empty frame is short and a single run is noisy on a shared machine.
    (0..<3).map { _ in timed { blackHole(Screen.render(g.empty, source: g.emptyStatus, state: state, width: width, height: height)) }.1 }.min()!
}

func report(_ b: Benchmark, _ g: Guests, seconds: Double, empty: Double) {
    b.measurement(Metric.microseconds, Int((seconds * 1e6).rounded()))
    b.measurement(Metric.emptyMicroseconds, Int((empty * 1e6).rounded()))
    b.measurement(Metric.emptyRatio, Int((seconds / empty * 100).rounded()))
    b.measurement(Metric.regions, g.big.regions.count)
    b.measurement(Metric.bytesPerRegion, g.big.regions.allocatedBytes / Swift.max(1, g.big.regions.count))
    b.measurement(Metric.mapMegabytes, g.big.regions.allocatedBytes / 1_000_000)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: frameMetrics, timeUnits: .microseconds, warmupIterations: 5,
        maxDuration: .seconds(3), maxIterations: 500
    )

    var guests: Guests?
    func shared() -> Guests {
        if let g = guests { return g }
        let g = Guests()
        guests = g
        return g
    }

    Benchmark("Frame 250x80: empty monitor (baseline)") { b in
        let g = shared()
        let state = ViewState()
        b.startMeasurement()
        let (grid, seconds) = timed { Screen.render(g.empty, source: g.emptyStatus, state: state, width: width, height: height) }
        b.stopMeasurement()
        blackHole(grid)
        report(b, g, seconds: seconds, empty: seconds)
    }

    Benchmark("Frame 250x80: 1 TiB guest, 1M regions, Screen.render") { b in
        measureRender(b, shared(), state: ViewState())
    }

    // The region table sorted by size, largest first: the tree's per-subtree bounds find the top
    // rows best-first (`largestRegions(k)`) instead of reading every region.
    Benchmark("Frame 250x80: 1 TiB guest, 1M regions, Screen.render sorted by size, descending") { b in
        var state = ViewState()
        state.sortKey = .size
        state.sortDescending = true
        measureRender(b, shared(), state: state)
    }

    // The `/` filter: a size term scans every region once per frame (at most 10,000 matches kept).
    Benchmark("Frame 250x80: 1 TiB guest, 1M regions, Screen.render filtered by size>=64K") { b in
        var state = ViewState()
        state.filter = "size>=64K"
        measureRender(b, shared(), state: state)
    }

    // What the app loop adds per frame before rendering.
    Benchmark("Frame 250x80: 1 TiB guest, 1M regions, Monitor.snapshot()") { b in
        let g = shared()
        let empty = timed { blackHole(Monitor().snapshot()) }.1
        b.startMeasurement()
        let (snap, seconds) = timed { g.monitor.snapshot() }
        b.stopMeasurement()
        blackHole(snap)
        report(b, g, seconds: seconds, empty: empty)
    }

    // The map panel's query at the frame's scale (1 TiB span, 1M regions).
    Benchmark("Frame 250x80: 1 TiB guest, 1M regions, sharedPagesPerCell(cells: 20000)") { b in
        let g = shared()
        let span = g.big.guestSpan
        b.startMeasurement()
        let (cells, seconds) = timed { g.big.regions.sharedPagesPerCell(span: span, cells: 20_000) }
        b.stopMeasurement()
        blackHole(cells)
        b.measurement(Metric.microseconds, Int((seconds * 1e6).rounded()))
        b.measurement(Metric.regions, g.big.regions.count)
    }
}

/// One full frame of the million-region guest in `state`, with the empty monitor's frame in the
/// same state timed first as the baseline.
func measureRender(_ b: Benchmark, _ g: Guests, state: ViewState) {
    let empty = emptyFrameSeconds(g, state)
    b.startMeasurement()
    let (grid, seconds) = timed { Screen.render(g.big, source: g.bigStatus, state: state, width: width, height: height) }
    b.stopMeasurement()
    blackHole(grid)
    report(b, g, seconds: seconds, empty: empty)
}
