import FuzzSupport
import LiveHost
import MonitorCore
import SystemLibc

/// A hostile trace.dat: libtracecmd reads files, not memory, so each input is written to one
/// file of this process (rewritten, never left behind) and replayed as `encmon replay FILE` does:
/// `TraceDatReplaySource` (libtracecmd open, every buffer, the live path's event decoder), then
/// the model, the JSON summary and a frame. libtracecmd is not instrumented: the fuzzer's
/// guidance comes from the Swift side, but a crash, a double free or a hang inside the C library
/// is caught (ASan intercepts malloc/free; libFuzzer the signals and the timeout).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTraceDat(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard InputFile.write(data, size) else { return 0 }
    guard let source = try? TraceDatReplaySource(path: InputFile.path) else { return 0 }
    var events: [MonitorEvent] = []
    while (try? source.poll(until: nil, limit: 4096, into: &events)) == true {}
    let s = source.status
    FuzzPipeline.exercise(events, status: FuzzPipeline.status(lines: s.lines, skipped: s.skippedLines,
                                                              malformed: s.malformedLines, lost: source.summary.lostEvents))
    return 0
}

/// `/tmp/encmon-fuzz-tracedat-<pid>.dat`, removed at exit (by scripts/fuzz.sh when the process crashed).
private enum InputFile {
    static let path: String = {
        let p = "/tmp/encmon-fuzz-tracedat-\(getpid()).dat"
        atexit { unlink("/tmp/encmon-fuzz-tracedat-\(getpid()).dat") }
        return p
    }()

    static func write(_ data: UnsafePointer<UInt8>, _ size: Int) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var done = 0
        while done < size {
            let n = Glibc.write(fd, data + done, size - done)
            if n < 0 { if errno == EINTR { continue }; return false }
            done += n
        }
        return true
    }
}
