import SystemLibc
import LiveHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MonitorCore

/// Why a journal cannot be used.
public enum JournalError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, errno: Int32)
    case cannotWrite(path: String, errno: Int32)
    case notAJournal(path: String)
    case badState(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let p, let e): "journal \(p): cannot open: \(String(cString: strerror(e)))"
        case .cannotWrite(let p, let e): "journal \(p): cannot write: \(String(cString: strerror(e)))"
        case .notAJournal(let p): "journal \(p): not an encmon-daemon journal (no header comment)"
        case .badState(let p, let r): "model state \(p): \(r)"
        }
    }
}

/// The model state a journal continues after a compaction (`PID-TICKS.state`, JSON).
public struct JournalState: Codable, Sendable {
    public var generation: UInt64
    public var incompleteSince: EventTime?
    public var monitor: Monitor
}

/// What a restarted daemon reads back for one process.
public struct JournalContents {
    public var header: JournalHeader
    /// The compacted model state the events continue, if the journal was ever compacted.
    public var state: JournalState?
    public var events: [MonitorEvent]
    /// Problems worth a log line (torn last record, stale journal after a crash mid-compaction).
    public var warnings: [String]
}

/// One process's append-only journal: an encmon recording whose events rebuild the model, on top
/// of the compacted model state of the same generation when there is one.
///
/// Records are written once per applied batch (`append` ends with a flush), so a SIGKILL loses at
/// most the batch being written; a torn last line is cut off when the journal is reopened. Past
/// `maxBytes` the journal is compacted: the model state is written (temporary file, then rename)
/// as generation G+1, then the journal restarts empty as generation G+1. A crash between the two
/// steps leaves a state newer than the journal, and the stale journal is ignored on restore.
public final class ProcessJournal {
    public let path: String
    public private(set) var header: JournalHeader
    public let maxBytes: UInt64
    /// nil while closed (an exited process); reopened by the next append.
    private var writer: RecordingWriter?
    public private(set) var bytes: UInt64
    public private(set) var compactions = 0

    public var statePath: String { Self.statePath(forJournal: path) }

    /// Continues the journal at `path`, or creates it with `header`. `reset` starts it empty.
    public init(path: String, header: JournalHeader, maxBytes: UInt64, reset: Bool = false) throws {
        self.path = path
        self.header = header
        self.maxBytes = maxBytes
        if reset {
            try Self.replace(path, with: header)
        } else {
            try Self.cutTornLine(path)
        }
        do {
            writer = try RecordingWriter(path: path, comment: header.commentText)
        } catch {
            throw JournalError.cannotOpen(path: path, errno: errno)
        }
        bytes = Self.fileSize(path) ?? 0
    }

    /// Appends events and writes them through.
    public func append(_ events: [MonitorEvent]) throws {
        if writer == nil {
            do { writer = try RecordingWriter(path: path) } catch { throw JournalError.cannotOpen(path: path, errno: errno) }
        }
        do {
            for e in events {
                try writer?.write(e)
                bytes += UInt64(RecordingFormat.encode(e).utf8.count + 1)
            }
            try writer?.flush()
        } catch {
            throw JournalError.cannotWrite(path: path, errno: errno)
        }
    }

    /// Whether the journal has passed its size limit.
    public var needsCompaction: Bool { bytes > maxBytes }

    /// Writes `monitor` as the next generation's state, then restarts the journal empty.
    public func compact(_ monitor: Monitor, incompleteSince: EventTime?) throws {
        let next = header.generation + 1
        let state = JournalState(generation: next, incompleteSince: incompleteSince, monitor: monitor)
        let data: Data
        do { data = try JSONEncoder().encode(state) } catch {
            throw JournalError.badState(path: statePath, reason: "cannot encode: \(error)")
        }
        try Self.writeAtomically(statePath, Array(data))
        writer?.close()
        writer = nil
        header.generation = next
        try Self.replace(path, with: header)
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

    /// The header, compacted state and events of a journal; torn or malformed lines are skipped.
    public static func contents(of path: String) throws -> JournalContents {
        let text: String
        do { text = String(decoding: try FileSystemCalls.readFile(path, limit: .max), as: UTF8.self) } catch {
            throw JournalError.cannotOpen(path: path, errno: error.errno)
        }
        var header: JournalHeader?
        var lines: [Substring] = []
        var warnings: [String] = []
        var segments = text.split(separator: "\n", omittingEmptySubsequences: false)
        // The last segment is empty after a final newline, else a torn record: drop it either way.
        if let last = segments.popLast(), !last.isEmpty { warnings.append("\(path): torn last record cut off") }
        guard segments.first.map({ $0 == RecordingFormat.headerLine }) == true else { throw JournalError.notAJournal(path: path) }
        for line in segments.dropFirst() where !line.isEmpty {
            if line.hasPrefix("#") {
                if header == nil { header = JournalHeader(commentLine: line) }
            } else {
                lines.append(line)
            }
        }
        guard let header else { throw JournalError.notAJournal(path: path) }
        var events = lines.compactMap { try? RecordingFormat.decode(String($0)) }
        if events.count < lines.count { warnings.append("\(path): \(lines.count - events.count) malformed records skipped") }
        let statePath = Self.statePath(forJournal: path)
        var state: JournalState?
        if let bytes = readWholeFileBytes(statePath) {
            do { state = try JSONDecoder().decode(JournalState.self, from: Data(bytes)) } catch {
                throw JournalError.badState(path: statePath, reason: "\(error)")
            }
        }
        switch (state?.generation, header.generation) {
        case (nil, 0): break
        case (nil, let g):
            warnings.append("\(path): generation \(g) but no model state: rebuilt from the journal alone")
        case (let s?, let g) where s > g:
            warnings.append("\(path): interrupted compaction: the journal is older than the state and is ignored")
            events = []
        case (let s?, let g) where s < g:
            warnings.append("\(path): model state generation \(s) is older than the journal's \(g): ignored")
            state = nil
        default: break
        }
        return JournalContents(header: header, state: state, events: events, warnings: warnings)
    }

    static func statePath(forJournal path: String) -> String {
        (path.hasSuffix(".journal") ? String(path.dropLast(8)) : path) + ".state"
    }

    static func fileSize(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_size)
    }

    /// The whole file, however large (a journal), or nil when it cannot be read.
    static func readWholeFileBytes(_ path: String) -> [UInt8]? {
        try? FileSystemCalls.readFile(path, limit: .max)
    }

    /// Writes `bytes` to a temporary file, syncs it (unless told not to), and renames it over `path`.
    static func writeAtomically(_ path: String, _ bytes: [UInt8], sync: Bool = true) throws {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError.cannotWrite(path: temp, errno: errno) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let e = errno
                SystemLibc.close(fd)
                throw JournalError.cannotWrite(path: temp, errno: e)
            }
            offset += n
        }
        let synced = !sync || fsync(fd) == 0
        let e = errno
        SystemLibc.close(fd)
        guard synced else { throw JournalError.cannotWrite(path: temp, errno: e) }
        guard rename(temp, path) == 0 else { throw JournalError.cannotWrite(path: path, errno: errno) }
    }

    /// Replaces the journal with an empty one (header and comment only).
    static func replace(_ path: String, with header: JournalHeader) throws {
        try writeAtomically(path, Array((RecordingFormat.headerLine + "\n# " + header.commentText + "\n").utf8))
    }

    /// Truncates a journal that a crash left without a final newline to its last whole line.
    static func cutTornLine(_ path: String) throws {
        guard let bytes = readWholeFileBytes(path), let last = bytes.last, last != UInt8(ascii: "\n") else { return }
        let keep = (bytes.lastIndex(of: UInt8(ascii: "\n")) ?? -1) + 1
        guard truncate(path, off_t(keep)) == 0 else { throw JournalError.cannotWrite(path: path, errno: errno) }
    }
}
