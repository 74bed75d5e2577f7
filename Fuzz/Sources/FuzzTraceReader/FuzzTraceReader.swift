import FuzzSupport
import MonitorCore

/// The streaming reader over fuzzed bytes, with the chunk size and line limit taken from the first
/// two bytes so that lines across chunk boundaries and over-long lines are exercised.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTraceReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let chunkSize = 1 + Int(data[0] & 0x3F)
    let maxLineLength = 16 + Int(data[1]) * 4
    let bytes = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))
    let reader = TraceReader(bytes: bytes, name: "fuzz", chunkSize: chunkSize, maxLineLength: maxLineLength)
    var events: [MonitorEvent] = []
    do {
        try reader.forEach { events.append($0) }
    } catch {
        return 0   // reading memory cannot fail; a thrown error is still not a crash
    }
    let c = reader.counters
    // Every byte handed over is accounted for, and no line is counted twice.
    precondition(c.bytesRead == UInt64(bytes.count), "read \(c.bytesRead) of \(bytes.count) bytes")
    precondition(c.events <= c.lines && c.skipped + c.malformed + c.duplicates <= c.lines,
                 "counters do not add up: \(c)")
    checkBatchFastPath(bytes, chunkSize: chunkSize, maxLineLength: maxLineLength, events: events, counters: c)
    FuzzPipeline.exercise(events, status: FuzzPipeline.status(lines: c.lines, skipped: c.skipped,
                                                               malformed: c.malformed, lost: c.lostEvents))
    return 0
}

/// The batch fast path (`readBatch`, which reads a line before knowing where it ends) gives what
/// the reference parsing gives: the same events (conversions without pid and vCPU) and counters.
/// `forEach` above took the fast path with ids; the reference splits lines first.
func checkBatchFastPath(_ bytes: [UInt8], chunkSize: Int, maxLineLength: Int, events: [MonitorEvent], counters: TraceReadCounters) {
    let reference = TraceReader(bytes: bytes, name: "fuzz", chunkSize: chunkSize, maxLineLength: maxLineLength)
    reference.referenceParsing = true
    var expected: [MonitorEvent] = []
    try? reference.forEach { expected.append($0) }
    precondition("\(events)" == "\(expected)", "fast and reference events differ")  // text: a recording may carry NaN
    precondition(counters == reference.counters, "fast \(counters) vs reference \(reference.counters)")
    let batches = TraceReader(bytes: bytes, name: "fuzz", chunkSize: chunkSize, maxLineLength: maxLineLength)
    var batch = TraceEventBatch()
    var batched: [MonitorEvent] = []
    while !batches.isFinished {
        batch.removeAll()
        guard (try? batches.readBatch(into: &batch, limit: 1 + Int(bytes.count % 7))) != nil else { return }
        batched += batch.events
    }
    precondition("\(batched)" == "\(expected.map(\.batched))", "batch and reference events differ")
    precondition(batches.counters == reference.counters, "batch \(batches.counters) vs reference \(reference.counters)")
}
