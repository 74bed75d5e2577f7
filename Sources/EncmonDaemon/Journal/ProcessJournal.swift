#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MonitorCore

/// Why a journal cannot be used.
public enum JournalError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, errno: Int32)
    case cannotWrite(path: String, errno: Int32)
    case notAJournal(path: String)

    public var description: String {
        switch self {
        case .cannotOpen(let p, let e): "journal \(p): cannot open: \(String(cString: strerror(e)))"
        case .cannotWrite(let p, let e): "journal \(p): cannot write: \(String(cString: strerror(e)))"
        case .notAJournal(let p): "journal \(p): not an encmon-daemon journal (no header comment)"
        }
    }
}

/// One process's append-only journal: an encmon recording whose events rebuild the model.
///
/// Records are appended with one `write(2)` each on an `O_APPEND` descriptor, so a SIGKILL loses
/// at most the record being written; a torn last line is cut off when the journal is reopened.
/// Past `maxBytes` the journal is rewritten as a compacted snapshot (`compact`).
public final class ProcessJournal {
    public let path: String
    public let header: JournalHeader
    public let maxBytes: UInt64
    /// nil while closed (an exited process); reopened by the next append.
    private var writer: RecordingWriter?
    public private(set) var bytes: UInt64
    public private(set) var compactions = 0

    /// Creates a new journal, or continues the existing one at `path`.
    public init(path: String, header: JournalHeader, maxBytes: UInt64) throws {
        self.path = path
        self.header = header
        self.maxBytes = maxBytes
        try Self.cutTornLine(path)
        do {
            writer = try RecordingWriter(path: path, comment: header.commentText)
        } catch {
            throw JournalError.cannotOpen(path: path, errno: errno)
        }
        bytes = Self.fileSize(path) ?? 0
    }

    /// Appends events; `compacted` says whether the journal was rewritten as a snapshot.
    public func append(_ events: [MonitorEvent]) throws {
        if writer == nil {
            do { writer = try RecordingWriter(path: path) } catch { throw JournalError.cannotOpen(path: path, errno: errno) }
        }
        for e in events {
            do { try writer?.write(e) } catch { throw JournalError.cannotWrite(path: path, errno: errno) }
            bytes += UInt64(RecordingFormat.encode(e).utf8.count + 1)
        }
    }

    /// Whether the journal has passed its size limit.
    public var needsCompaction: Bool { bytes > maxBytes }

    /// Rewrites the journal as `snapshotEvents` (written to a temporary file, then renamed over
    /// the journal, so a crash leaves the old or the new journal, never half of one).
    public func compact(to snapshotEvents: [MonitorEvent], note: String) throws {
        let temp = path + ".compacting"
        unlink(temp)
        let w: RecordingWriter
        do {
            w = try RecordingWriter(path: temp, truncate: true, comment: header.commentText + "\n" + note)
            for e in snapshotEvents { try w.write(e) }
        } catch {
            throw JournalError.cannotWrite(path: temp, errno: errno)
        }
        w.close()
        guard rename(temp, path) == 0 else { throw JournalError.cannotWrite(path: path, errno: errno) }
        writer?.close()
        do { writer = try RecordingWriter(path: path) } catch { throw JournalError.cannotOpen(path: path, errno: errno) }
        bytes = Self.fileSize(path) ?? 0
        compactions += 1
    }

    /// Closes the file; a later append reopens it.
    public func close() {
        writer?.close()
        writer = nil
    }

    // MARK: reading

    /// The header and events of a journal file; torn or malformed lines are skipped and counted.
    public static func contents(of path: String) throws -> (header: JournalHeader, lines: [String], malformed: Int) {
        guard let text = readWholeFile(path) else { throw JournalError.cannotOpen(path: path, errno: errno) }
        var header: JournalHeader?
        var lines: [String] = []
        var malformed = 0
        var first = true
        var segments = text.split(separator: "\n", omittingEmptySubsequences: false)
        // The last segment is empty after a final newline, else a torn record: drop it either way.
        if let last = segments.popLast(), !last.isEmpty { malformed += 1 }
        for line in segments where !line.isEmpty {
            if first {
                first = false
                guard line == RecordingFormat.headerLine else { throw JournalError.notAJournal(path: path) }
                continue
            }
            if line.hasPrefix("#") {
                if header == nil { header = JournalHeader(commentLine: line) }
                continue
            }
            lines.append(String(line))
        }
        guard let header else { throw JournalError.notAJournal(path: path) }
        return (header, lines, malformed)
    }

    /// Decodes journal lines into events, skipping any that do not decode.
    public static func events(_ lines: [String]) -> [MonitorEvent] {
        lines.compactMap { try? RecordingFormat.decode($0) }
    }

    static func fileSize(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_size)
    }

    static func readWholeFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            out.append(contentsOf: chunk[..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Truncates a journal that a crash left without a final newline to its last whole line.
    static func cutTornLine(_ path: String) throws {
        guard let text = readWholeFile(path), !text.isEmpty, !text.hasSuffix("\n") else { return }
        let keep = text.utf8.lastIndex(of: UInt8(ascii: "\n")).map { text.utf8.distance(from: text.utf8.startIndex, to: $0) + 1 } ?? 0
        guard truncate(path, off_t(keep)) == 0 else { throw JournalError.cannotWrite(path: path, errno: errno) }
    }
}
