// Trace ingest: a 4-million-line mixed ftrace file of kvm_hypercall lines (BenchmarkSupport's
// TraceGenerator, cached in $TMPDIR, every line one event). Each benchmark times the I/O floor in
// the same iteration, outside the measured region, and reports its time ratio to it; the reference
// parser's benchmark times encmon's two parse paths on the same bytes and reports their speed-up
// (and checks that all three parsers produce the same events).
import Benchmark
import BenchmarkSupport
import CReferenceParser
import MonitorCore

enum Metric {
    static let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
    static let keventsPerSecond = BenchmarkMetric.custom("kevents/s", polarity: .prefersLarger, useScalingFactor: false)
    /// Subject time / I/O floor time, x100 (target: <= 500).
    static let floorRatio = BenchmarkMetric.custom("time vs I/O floor (x100)", polarity: .prefersSmaller, useScalingFactor: false)
    static let floorMegabytesPerSecond = BenchmarkMetric.custom("I/O floor MB/s", polarity: .prefersLarger, useScalingFactor: false)
    /// Reference parser time / encmon time on the same bytes in the same iteration, x100.
    static let parseSpeedup = BenchmarkMetric.custom("TraceLineParser speed-up vs this (x100)", polarity: .prefersLarger, useScalingFactor: false)
    static let readerSpeedup = BenchmarkMetric.custom("TraceReader speed-up vs this (x100)", polarity: .prefersLarger, useScalingFactor: false)
    /// Subject time / C reference parser time on the same input in the same iteration, x100.
    static let cRatio = BenchmarkMetric.custom("time vs C parser (x100)", polarity: .prefersSmaller, useScalingFactor: false)
    /// C reference parser time / I/O floor time, x100: how close compiled C gets to the floor.
    static let cFloorRatio = BenchmarkMetric.custom("C parser vs I/O floor (x100)", polarity: .prefersSmaller, useScalingFactor: false)
    /// Per-event path time / batch fast path time on the same input in the same iteration, x100.
    static let batchSpeedup = BenchmarkMetric.custom("batch fast path speed-up vs per-event (x100)", polarity: .prefersLarger, useScalingFactor: false)
}

/// Reports throughput and the two ratios for one iteration of a subject that took `seconds`.
func report(_ b: Benchmark, fixture: TraceFixture, events: Int, seconds: Double, floor: Double) {
    b.measurement(Metric.megabytesPerSecond, Int(fixture.megabytes / seconds))
    b.measurement(Metric.keventsPerSecond, Int(Double(events) / seconds / 1e3))
    b.measurement(Metric.floorRatio, Int((seconds / floor * 100).rounded()))
    b.measurement(Metric.floorMegabytesPerSecond, Int(fixture.megabytes / floor))
}

let ingestMetrics: [BenchmarkMetric] = [
    .wallClock, .peakMemoryResident, .mallocCountTotal,
    Metric.megabytesPerSecond, Metric.keventsPerSecond, Metric.floorRatio, Metric.floorMegabytesPerSecond,
    Metric.parseSpeedup, Metric.readerSpeedup, Metric.cRatio, Metric.cFloorRatio, Metric.batchSpeedup,
]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: ingestMetrics,
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(20),
        maxIterations: 5
    )

    // Baseline 1: the I/O floor. Its own ratio is 1 by definition; reported for the table.
    Benchmark("Ingest 4M lines: I/O floor (read 1 MiB chunks, count newlines)") { b in
        let fixture = TraceFixture.shared
        b.startMeasurement()
        let (lines, seconds) = timed { IOFloor.countLines(path: fixture.path) }
        b.stopMeasurement()
        blackHole(lines)
        if lines != fixture.lineCount { b.error("I/O floor counted \(lines) lines, expected \(fixture.lineCount)") }
        report(b, fixture: fixture, events: lines, seconds: seconds, floor: seconds)
    }

    // Baseline 2: the obvious parser (String lines, split, radix 16), with encmon's two parse paths
    // timed on the same bytes in the same iteration for the speed-up.
    Benchmark("Ingest 4M lines: reference parser (String, split, radix 16)",
              configuration: .init(metrics: ingestMetrics, timeUnits: .milliseconds, warmupIterations: 0,
                                   maxDuration: .seconds(30), maxIterations: 2)) { b in
        let fixture = TraceFixture.shared
        let bytes = fixture.load()
        let floor = timed { IOFloor.countLines(path: fixture.path) }.1
        let (parsed, parseSeconds) = timed { ParseOnly.parse(bytes) }
        let (read, readSeconds) = timed { () -> IngestTally in
            var t = IngestTally()
            try! TraceReader(path: fixture.path).forEach { t.add($0) }
            return t
        }
        b.startMeasurement()
        let (tally, seconds) = timed { ReferenceParser.parse(path: fixture.path) }
        b.stopMeasurement()
        blackHole(tally)
        if parsed != tally || read != tally { b.error("reference \(tally), TraceLineParser \(parsed), TraceReader \(read)") }
        report(b, fixture: fixture, events: tally.events, seconds: seconds, floor: floor)
        b.measurement(Metric.parseSpeedup, Int((seconds / parseSeconds * 100).rounded()))
        b.measurement(Metric.readerSpeedup, Int((seconds / readSeconds * 100).rounded()))
    }

    // Parse only: bytes already in memory, memchr line split + TraceLineParser.parse. The floor is
    // still the file's (read(2) of the same bytes), timed in the same iteration.
    Benchmark("Ingest 4M lines: parse only, in memory (TraceLineParser)") { b in
        let bytes = TraceFixture.shared.load()
        measureAgainstFloor(b, "TraceLineParser") { ParseOnly.parse(bytes).events }
    }

    // Read + parse: TraceReader over the file (read(2), memchr split, parse), no model.
    Benchmark("Ingest 4M lines: read+parse (TraceReader.forEach)") { b in
        measureAgainstFloor(b, "TraceReader") {
            var t = IngestTally()
            try! TraceReader(path: TraceFixture.shared.path).forEach { t.add($0) }
            return t.events
        }
    }

    // Parse + apply: what `encmon replay FILE --json` did before it was pipelined.
    Benchmark("Ingest 4M lines: read+parse+apply (TraceReader.forEach -> Monitor)") { b in
        measureAgainstFloor(b, "Monitor (sequential)") {
            var m = Monitor()
            try! TraceReader(path: TraceFixture.shared.path).forEach { m.apply($0) }
            blackHole(m.regions.count)
            return Int(m.totals.events)
        }
    }

    // The same, pipelined: a second thread reads and parses while this one applies batches, what
    // `encmon replay FILE --json/--summary` does (ReplayCommand.readWholeFile).
    Benchmark("Ingest 4M lines: read+parse+apply, pipelined (PipelinedTraceReplay.run -> Monitor.apply(batch))") { b in
        measureAgainstFloor(b, "Monitor (pipelined)") {
            var m = Monitor()
            _ = try! PipelinedTraceReplay.run(path: TraceFixture.shared.path) { batch in m.apply(batch) }
            blackHole(m.regions.count)
            return Int(m.totals.events)
        }
    }

    // Issue 14's shape: real ftrace lines, ~1,000 regions, every line a conversion. Baselines in
    // the same iteration: the I/O floor and the plain C parser (CReferenceParser) on the same input.
    Benchmark("Ingest 4M lines, few regions: parse only, in memory (TraceLineParser) vs C parser") { b in
        let fixture = FewRegionsTrace.shared
        let bytes = fixture.load()
        measureAgainstFloorAndC(b, fixture: fixture, "TraceLineParser, few regions",
                                cParser: { cParse(bytes) }) { ParseOnly.parse(bytes).events }
    }

    // The batch fast path (issue 14): plain conversion records read straight from the line
    // (TraceReader.readBatch), against the per-event path (next() -> MonitorEvent) timed in the
    // same iteration on the same file.
    Benchmark("Ingest 4M lines, few regions: read+parse, batch fast path (TraceReader.readBatch) vs C parser") { b in
        let fixture = FewRegionsTrace.shared
        let (perEvent, perEventSeconds) = timed { () -> Int in
            var n = 0
            try! TraceReader(path: fixture.path).forEach { _ in n += 1 }
            return n
        }
        let seconds = measureAgainstFloorAndC(b, fixture: fixture, "TraceReader.readBatch, few regions",
                                              cParser: { cParse(path: fixture.path) }) {
            let reader = try! TraceReader(path: fixture.path)
            var batch = TraceEventBatch(capacity: 16_384)
            var n = 0
            while !reader.isFinished {
                batch.removeAll()
                try! reader.readBatch(into: &batch, limit: 16_384)
                n += batch.count
            }
            return n
        }
        if perEvent != fixture.lineCount { b.error("per-event path: \(perEvent) events") }
        b.measurement(Metric.batchSpeedup, Int((perEventSeconds / seconds * 100).rounded()))
    }

    Benchmark("Ingest 4M lines, few regions: read+parse+apply, pipelined (what encmon replay --json does) vs C parser") { b in
        let fixture = FewRegionsTrace.shared
        // Before the batch fast path: MonitorEvent batches, timed in the same iteration.
        let (_, perEventSeconds) = timed { () -> Int in
            var m = Monitor()
            _ = try! PipelinedTraceReplay.run(path: fixture.path) { batch in m.apply(batch) }
            return Int(m.totals.events)
        }
        let seconds = measureAgainstFloorAndC(b, fixture: fixture, "Monitor (pipelined), few regions",
                                              cParser: { cParse(path: fixture.path) }) {
            var m = Monitor()
            _ = try! PipelinedTraceReplay.replay(path: fixture.path, into: &m)
            blackHole(m.regions.count)
            return Int(m.totals.events)
        }
        b.measurement(Metric.batchSpeedup, Int((perEventSeconds / seconds * 100).rounded()))
    }
}

/// The C reference parser over bytes in memory: the events it parsed.
func cParse(_ bytes: [UInt8]) -> Int {
    var t = c_tally()
    bytes.withUnsafeBufferPointer { c_parse_buffer($0.baseAddress, $0.count, &t) }
    blackHole(t.checksum)
    return Int(t.events)
}

/// The C reference parser reading the file with read(2).
func cParse(path: String) -> Int {
    var t = c_tally()
    precondition(c_parse_file(path, &t) == 0, "C parser cannot open \(path)")
    blackHole(t.checksum)
    return Int(t.events)
}

/// As `measureAgainstFloor`, with the C parser timed in the same iteration too (outside the
/// measurement) and its event count checked. Returns the subject's time.
@discardableResult
func measureAgainstFloorAndC(_ b: Benchmark, fixture: TraceFixture, _ subject: String,
                             cParser: () -> Int, _ ingest: () -> Int) -> Double {
    let floor = timed { IOFloor.countLines(path: fixture.path) }.1
    let (cEvents, cSeconds) = timed(cParser)
    b.startMeasurement()
    let (events, seconds) = timed(ingest)
    b.stopMeasurement()
    blackHole(events)
    if events != fixture.lineCount || cEvents != fixture.lineCount {
        b.error("\(subject): \(events) events, C parser \(cEvents), from \(fixture.lineCount) lines")
    }
    report(b, fixture: fixture, events: events, seconds: seconds, floor: floor)
    b.measurement(Metric.cRatio, Int((seconds / cSeconds * 100).rounded()))
    b.measurement(Metric.cFloorRatio, Int((cSeconds / floor * 100).rounded()))
    return seconds
}

/// One iteration of a subject that ingests the fixture and returns the events it saw: the I/O
/// floor is timed first in the same iteration (outside the measurement), the event count is
/// checked against the fixture's lines, and throughput and the floor ratio are reported.
func measureAgainstFloor(_ b: Benchmark, _ subject: String, _ ingest: () -> Int) {
    let fixture = TraceFixture.shared
    let floor = timed { IOFloor.countLines(path: fixture.path) }.1
    b.startMeasurement()
    let (events, seconds) = timed(ingest)
    b.stopMeasurement()
    blackHole(events)
    if events != fixture.lineCount { b.error("\(subject): \(events) events from \(fixture.lineCount) lines") }
    report(b, fixture: fixture, events: events, seconds: seconds, floor: floor)
}
