import SystemLibc

/// Why a trace or recording file could not be used. Every case names the file.
public enum TraceFileError: Error, CustomStringConvertible, Hashable, Sendable {
    case cannotOpen(path: String, errno: Int32)
    case cannotRead(path: String, errno: Int32)
    case cannotWrite(path: String, errno: Int32)
    /// `RecordingWriter` refuses to append to a non-empty file that is not an encmon recording.
    case notARecording(path: String)
    /// A read of a stream stopped because its `TraceReadInterruption` asked (SIGINT, quit).
    case interrupted(path: String)

    public var path: String {
        switch self {
        case .cannotOpen(let p, _), .cannotRead(let p, _), .cannotWrite(let p, _), .notARecording(let p), .interrupted(let p): p
        }
    }

    public var description: String {
        switch self {
        case .cannotOpen(let p, let e): "cannot open '\(p)': \(TraceFile.errorText(e))"
        case .cannotRead(let p, let e): "cannot read '\(p)': \(TraceFile.errorText(e))"
        case .cannotWrite(let p, let e): "cannot write '\(p)': \(TraceFile.errorText(e))"
        case .notARecording(let p):
            "'\(p)' is not empty and does not start with '\(RecordingFormat.headerLine)'; "
                + "choose a new file name to record to"
        case .interrupted(let p): "reading '\(p)' was interrupted"
        }
    }
}

/// The name the replay source and the CLI use for errors about a trace file.
public typealias TraceReplayError = TraceFileError

/// Thin wrappers over the system calls the trace readers and the recording writer use: errors
/// come back as errno values, no policy. EINTR is retried where a call cannot block for long
/// (open, pread, write); `read` returns it, so a reader blocked on a stream can see a signal.
public enum TraceFile {
    static func errorText(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "errno \(code)" }
        return String(cString: s) + " (errno \(code))"
    }

    /// `open(2)`, retried on EINTR. Returns the descriptor or the errno.
    static func open(_ path: String, flags: Int32, mode: mode_t = 0) -> Result<Int32, Errno> {
        while true {
            let fd = path.withCString { systemOpen($0, flags | O_CLOEXEC, mode) }
            if fd >= 0 { return .success(fd) }
            let e = errno
            if e != EINTR { return .failure(Errno(code: e)) }
        }
    }

    /// `read(2)`. 0 = end of file; EINTR is returned like any other error.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) -> Result<Int, Errno> {
        let n = SystemLibc.read(fd, buffer, count)
        return n >= 0 ? .success(n) : .failure(Errno(code: errno))
    }

    /// `pread(2)`, retried on EINTR.
    static func pread(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int, offset: Int64) -> Result<Int, Errno> {
        while true {
            let n = systemPread(fd, buffer, count, off_t(offset))
            if n >= 0 { return .success(n) }
            let e = errno
            if e != EINTR { return .failure(Errno(code: e)) }
        }
    }

    /// `write(2)` until every byte is written (one call unless the kernel writes partially).
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Result<Void, Errno> {
        var written = 0
        return writeAll(fd, bytes, written: &written)
    }

    /// `writeAll`, telling how many bytes reached the file before a failure.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, written: inout Int) -> Result<Void, Errno> {
        written = 0
        guard var p = bytes.baseAddress else { return .success(()) }
        var left = bytes.count
        while left > 0 {
            let n = SystemLibc.write(fd, p, left)
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                return .failure(Errno(code: e))
            }
            p += n
            left -= n
            written += n
        }
        return .success(())
    }

    /// The size of a regular file, nil for pipes, terminals and other streams.
    static func regularFileSize(_ fd: Int32) -> UInt64? {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return UInt64(st.st_size)
    }

    static func close(_ fd: Int32) {
        _ = SystemLibc.close(fd)
    }

    /// An errno value as an Error, so that `Result` can carry it.
    public struct Errno: Error, Sendable { public var code: Int32 }
}

// `open` and `pread` are imported under the same names on every libc module; these aliases
// keep the calls above unambiguous next to the `TraceFile.open`/`pread` statics.
@inline(__always)
private func systemOpen(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    SystemLibc.open(path, flags, mode)
}

@inline(__always)
private func systemPread(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ count: Int, _ offset: off_t) -> Int {
    SystemLibc.pread(fd, buf, count, offset)
}
