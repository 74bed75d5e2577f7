import FuzzSupport
import LiveHost
import MonitorCore
import SystemLibc

/// A hostile trace.dat: libtracecmd reads files, not memory, so each input is written to one
/// file of this process (rewritten, never left behind) and replayed as `encmon replay FILE` does:
/// `TraceDatFile.readEvents` (libtracecmd open, every buffer, the live path's event decoder: what
/// replay's decoder child runs), then the model, the JSON summary and a frame. libtracecmd is not instrumented: the fuzzer's
/// guidance comes from the Swift side, but a crash, a double free or a hang inside the C library
/// is caught (ASan intercepts malloc/free; libFuzzer the signals and the timeout).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTraceDat(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard InputFile.write(data, size) else { return 0 }
    var events: [MonitorEvent] = []
    guard let summary = try? TraceDatFile.readEvents(path: InputFile.path, emit: { events.append($0) }) else { return 0 }
    let decoded = UInt64(events.count { if case .lostEvents = $0 { false } else { true } })
    FuzzPipeline.exercise(events, status: FuzzPipeline.status(lines: summary.records, skipped: summary.skippedRecords(decoded: decoded),
                                                              malformed: summary.malformed, lost: summary.lostEvents))
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
