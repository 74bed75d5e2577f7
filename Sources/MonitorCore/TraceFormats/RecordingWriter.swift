#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends events to an encmon recording (`RecordingFormat`), one `write(2)` per record on an
/// `O_APPEND` descriptor, so a crash loses at most the record being written.
///
/// A new or empty file gets the header line first; a non-empty file must already be a recording
/// (appending continues it). A class because it owns the file descriptor.
public final class RecordingWriter {
    public let path: String
    private var fd: Int32
    public private(set) var recordsWritten: UInt64 = 0

    /// Opens (creating with mode 0644) `path` for appending. `truncate` empties an existing file
    /// first. `comment` lines go under the header of a new recording.
    public init(path: String, truncate: Bool = false, comment: String? = nil) throws {
        self.path = path
        var flags = O_WRONLY | O_APPEND | O_CREAT
        if truncate { flags |= O_TRUNC }
        switch TraceFile.open(path, flags: flags, mode: 0o644) {
        case .success(let fd): self.fd = fd
        case .failure(let e): throw TraceFileError.cannotOpen(path: path, errno: e.code)
        }
        do {
            if try isEmpty() {
                var head = RecordingFormat.headerLine + "\n"
                if let comment { head += Self.commentLines(comment) }
                try writeLine(head)
            }
        } catch {
            TraceFile.close(fd)
            fd = -1
            throw error
        }
    }

    deinit { if fd >= 0 { TraceFile.close(fd) } }

    /// Appends one event.
    public func write(_ event: MonitorEvent) throws {
        try writeLine(RecordingFormat.encode(event) + "\n")
        recordsWritten += 1
    }

    /// Appends `#` comment lines (one per line of `text`).
    public func writeComment(_ text: String) throws {
        try writeLine(Self.commentLines(text))
    }

    /// Closes the file; later writes fail with EBADF.
    public func close() {
        if fd >= 0 { TraceFile.close(fd) }
        fd = -1
    }

    static func commentLines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { "# " + $0.filter { $0 != "\r" } + "\n" }.joined()
    }

    private func writeLine(_ line: String) throws {
        guard fd >= 0 else { throw TraceFileError.cannotWrite(path: path, errno: EBADF) }
        var s = line
        let result = s.withUTF8 { TraceFile.writeAll(fd, UnsafeRawBufferPointer($0)) }
        if case .failure(let e) = result { throw TraceFileError.cannotWrite(path: path, errno: e.code) }
    }

    /// True for an empty file; throws `notARecording` for a file with other content.
    private func isEmpty() throws -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TraceFileError.cannotRead(path: path, errno: errno) }
        if st.st_size == 0 { return true }
        // O_WRONLY cannot read: check the header through a second, read-only descriptor.
        guard case .success(let rfd) = TraceFile.open(path, flags: O_RDONLY) else { return false }
        defer { TraceFile.close(rfd) }
        let header = Array(RecordingFormat.headerLine.utf8.prefix(17))  // "encmon-recording "
        var buf = [UInt8](repeating: 0, count: header.count)
        let n = buf.withUnsafeMutableBytes { TraceFile.pread(rfd, into: $0.baseAddress!, count: header.count, offset: 0) }
        guard case .success(let got) = n, got == header.count, buf == header else {
            throw TraceFileError.notARecording(path: path)
        }
        return false
    }
}
