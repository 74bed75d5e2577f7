import FuzzSupport
import MonitorCore

/// Recording records: every line is decoded; a decoded record must encode to a line that decodes
/// to the same text again (round trip), and escaping must invert unescaping. The whole input is
/// then read as a recording file by the reader and drawn.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecording(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var events: [MonitorEvent] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let line = String(line)
        if let decoded = try? RecordingFormat.decode(line) {
            let encoded = RecordingFormat.encode(decoded)
            guard let again = try? RecordingFormat.decode(encoded) else {
                fatalError("re-encoded record does not decode: \(encoded)")
            }
            precondition(RecordingFormat.encode(again) == encoded, "round trip changed \(encoded)")
            events.append(decoded)
        }
        precondition(RecordingFormat.unescape(RecordingFormat.escape(line)) == line, "escape round trip")
    }
    let file = Array((RecordingFormat.headerLine + "\n").utf8) + Array(UnsafeBufferPointer(start: data, count: size))
    let reader = TraceReader(bytes: file, name: "fuzz.rec", chunkSize: 97)
    var read: [MonitorEvent] = []
    try? reader.forEach { read.append($0) }
    let c = reader.counters
    FuzzPipeline.exercise(events + read, status: FuzzPipeline.status(lines: c.lines, skipped: c.skipped,
                                                                      malformed: c.malformed, lost: c.lostEvents))
    return 0
}
