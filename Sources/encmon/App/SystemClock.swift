import CNcurses
import MonitorCore
import SystemLibc

/// Wall time for pacing frames: monotonic, so a clock change never stalls or races a replay.
enum WallClock {
    static func now() -> Double { SourceClock.monotonicNow() }

    /// Sleeps up to `seconds` in slices of at most 200 ms. Returns early with the signal when
    /// SIGINT/SIGTERM/SIGHUP arrives.
    static func sleep(_ seconds: Double) -> Int32? {
        let end = now() + seconds
        while true {
            if let s = SessionSignalHandlers.pending { return s }
            let left = end - now()
            if left <= 0 { return nil }
            let slice = min(left, 0.2)
            var ts = timespec(tv_sec: Int(slice), tv_nsec: Int((slice - Double(Int(slice))) * 1e9))
            nanosleep(&ts, nil)  // EINTR on a signal is fine: the loop checks the flag
        }
    }
}

/// The session's few uses of stdio and the environment.
enum SessionIO {
    /// Writes `text` to standard error unbuffered (Swift 6 rejects the `stderr` global, G3).
    static func writeError(_ text: String) { writeAll(STDERR_FILENO, text) }

    /// Writes `text` to standard output through stdio and flushes, so a pipe reader sees each frame at once.
    static func writeFrame(_ text: String) {
        fputs(text, cn_stdout())
        fflush(cn_stdout())
    }

    /// An environment variable, nil when unset.
    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
