import MonitorCore
import SystemLibc

/// Writes all of `text` to a file descriptor (the one write-all loop, `TraceFile.writeAll`);
/// errors are dropped (there is nowhere left to report them).
func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    _ = text.withUTF8 { TraceFile.writeAll(fd, UnsafeRawBufferPointer($0)) }
}

/// stderr and stdout without Foundation and without touching the C globals from Swift 6 code.
enum StandardError {
    static func write(_ text: String) { writeAll(2, text) }
    static var isTerminal: Bool { isatty(2) == 1 }
}

enum StandardOutput {
    static func write(_ text: String) { writeAll(1, text) }
    static var isTerminal: Bool { isatty(1) == 1 }
}

func exitProcess(_ code: Int32) -> Never { SystemLibc.exit(code) }
