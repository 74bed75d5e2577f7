import SystemLibc

/// Appends events to an encmon recording (`RecordingFormat`) on an `O_APPEND` descriptor. Records
/// collect in a buffer written when it holds `bufferBytes`, when `flushInterval` seconds have
/// passed since the last write (checked on every record and by `flushIfDue`, which a tap calls
/// on every poll), and on `flush`, `close` and deinit: a crash loses at most that second
/// (`RecordingTap` flushes every poll). A failed write is cut back to the last whole record.
///
/// A new or empty file gets the header line first; a non-empty file must already be a recording
/// (appending continues it). A class because it owns the file descriptor.
public final class RecordingWriter {
    public let path: String
    private var fd: Int32
    /// Records that reached the file (buffered ones count once written).
    public private(set) var recordsWritten: UInt64 = 0
    private var recordsBuffered: UInt64 = 0
    public static let bufferBytes = 64 * 1024
    public let flushInterval: Double
    private var buffer: [UInt8] = []
    private var lastFlush = SourceClock.monotonicNow()

    /// Opens (creating with mode 0644) `path` for appending. `truncate` empties an existing file
    /// first. `comment` lines go under the header of a new recording.
    public init(path: String, truncate: Bool = false, comment: String? = nil, flushInterval: Double = 1) throws {
        self.path = path
        self.flushInterval = flushInterval
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

    deinit { close() }

    /// Appends one event (to the buffer; see the type's documentation for when it is written).
    public func write(_ event: MonitorEvent) throws {
        guard fd >= 0 else { throw TraceFileError.cannotWrite(path: path, errno: EBADF) }
        buffer.append(contentsOf: (RecordingFormat.encode(event) + "\n").utf8)
        recordsBuffered += 1
        if buffer.count >= Self.bufferBytes { try flush() } else { try flushIfDue() }
    }

    /// Appends `#` comment lines (one per line of `text`).
    public func writeComment(_ text: String) throws {
        try flush()
        try writeLine(Self.commentLines(text))
    }

    /// Writes the buffer when `flushInterval` has passed since the last write.
    public func flushIfDue() throws {
        guard !buffer.isEmpty, SourceClock.monotonicNow() - lastFlush >= flushInterval else { return }
        try flush()
    }

    /// Writes every buffered record.
    public func flush() throws {
        lastFlush = SourceClock.monotonicNow()
        guard !buffer.isEmpty else { return }
        guard fd >= 0 else { throw TraceFileError.cannotWrite(path: path, errno: EBADF) }
        var before = stat()
        let sizeBefore = fstat(fd, &before) == 0 ? before.st_size : -1
        var written = 0
        let result = buffer.withUnsafeBytes { TraceFile.writeAll(fd, $0, written: &written) }
        defer { buffer.removeAll(keepingCapacity: true); recordsBuffered = 0 }
        guard case .failure(let e) = result else {
            recordsWritten += recordsBuffered
            return
        }
        // A write cut short (ENOSPC part-way) ends inside a record: keep the whole records that
        // reached the file and cut the rest off, so the file ends with a whole record.
        let whole = buffer[..<written].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        if sizeBefore >= 0 && ftruncate(fd, sizeBefore + off_t(whole)) == 0 {
            recordsWritten += UInt64(buffer[..<whole].lazy.filter { $0 == 0x0A }.count)
        }
        throw TraceFileError.cannotWrite(path: path, errno: e.code)
    }

    /// Writes what is buffered and closes the file; later writes fail with EBADF.
    public func close() {
        try? flush()
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
