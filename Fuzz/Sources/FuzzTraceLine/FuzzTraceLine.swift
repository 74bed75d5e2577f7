import FuzzSupport
import MonitorCore

/// Every trace layout through the line parser: the input is split at newlines and each line is
/// parsed as raw bytes (the reader's path); the last line counts as cut off by the end of the file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTraceLine(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    var parser = TraceLineParser()
    var events: [MonitorEvent] = []
    var skipped: UInt64 = 0, malformed: UInt64 = 0, lines: UInt64 = 0
    var start = 0
    while start <= size {
        let end = input[start...].firstIndex(of: 0x0A) ?? size
        // Each line in an allocation of its own size, so that reading past its end is caught.
        let line = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: end - start)
        _ = line.initialize(from: input[start..<end])
        defer { line.deallocate() }
        lines += 1
        switch parser.parse(UnsafeBufferPointer(line), endsWithNewline: end < size) {
        case .event(let e): events.append(e)
        case .skipped, .duplicate: skipped += 1
        case .malformed: malformed += 1
        }
        start = end + 1
    }
    FuzzPipeline.exercise(events, status: FuzzPipeline.status(lines: lines, skipped: skipped, malformed: malformed, lost: 0))
    return 0
}
