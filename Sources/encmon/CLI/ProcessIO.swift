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
/// What the CLI asks of a path before it opens it.
enum FileProbe {
    /// True when `path` names an existing file with something in it (a recording not to clobber).
    static func existsNonEmpty(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_size > 0
    }

    /// Why `path` cannot be read as input, or nil when it opens as a regular file, FIFO or device.
    /// A directory opens fine with O_RDONLY and fails only at the first read, so it is checked here.
    static func cannotOpenReason(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "cannot open '\(path)': \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return "cannot open '\(path)': it is a directory" }
        return nil
    }
}
