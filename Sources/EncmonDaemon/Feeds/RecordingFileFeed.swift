import SystemLibc
import MonitorCore
import Synchronization

/// The tests' stand-in for the kernel's ring buffer (hidden flag `--feed-recording FILE`): follows
/// an encmon recording that another process appends to, as `tail -f` does.
///
/// Attribution: a `conversion` or `rejected` record belongs to its `pid=`; any other record to
/// the pid of the record before it. A `lost` record is a ring-buffer overflow. Like a persistent
/// tracefs instance, the file keeps what was written while no daemon ran: a restarted daemon
/// resumes at the last cursor it saved (the byte offset after the last journaled batch), as a
/// reader of a persistent ring buffer resumes at what it has not consumed.
public final class RecordingFileFeed: ProcessEventFeed {
    public let path: String
    private let stopFlag = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)

    public init(path: String) { self.path = path }

    public var description: String { "recording feed \(path)" }

    public func start(resumeCursor: UInt64?, deliver: @escaping @Sendable ([FeedItem]) -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TraceFileError.cannotOpen(path: path, errno: errno) }
        if let c = resumeCursor, lseek(fd, off_t(clamping: c), SEEK_SET) < 0 {
            close(fd)
            throw TraceFileError.cannotRead(path: path, errno: errno)
        }
        let body = FeedThreadBody(fd: fd, path: path, offset: resumeCursor ?? 0, stop: { [self] in stopFlag.load(ordering: .acquiring) }, deliver: deliver)
        var t = pthread_t()
        let box = Unmanaged.passRetained(body)
        let rc = pthread_create(&t, nil, { raw in
            let b = Unmanaged<FeedThreadBody>.fromOpaque(raw!).takeRetainedValue()
            b.run()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            close(fd)
            throw TraceFileError.cannotRead(path: path, errno: rc)
        }
        thread.withLock { $0 = t }
    }

    public func stop() {
        stopFlag.store(true, ordering: .releasing)
        if let t = thread.withLock({ v -> pthread_t? in defer { v = nil }; return v }) { pthread_join(t, nil) }
    }
}

/// The feed thread's state; used by that thread only after `start` hands it over.
private final class FeedThreadBody: Sendable {
    let fd: Int32
    let path: String
    let startOffset: UInt64
    let stop: @Sendable () -> Bool
    let deliver: @Sendable ([FeedItem]) -> Void

    init(fd: Int32, path: String, offset: UInt64, stop: @escaping @Sendable () -> Bool, deliver: @escaping @Sendable ([FeedItem]) -> Void) {
        self.fd = fd; self.path = path; self.startOffset = offset; self.stop = stop; self.deliver = deliver
    }

    func run() {
        defer { close(fd) }
        var pending: [UInt8] = []
        var lastPid: Int32 = -1
        var consumed = startOffset  // file offset of pending[0]
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while !stop() {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                usleep(20_000)  // at end of file: wait for the writer, as tail -f does
                continue
            }
            pending.append(contentsOf: chunk[..<n])
            var items: [FeedItem] = []
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[start..<nl], as: UTF8.self)
                start = nl + 1
                if let item = Self.item(line, lastPid: &lastPid) { items.append(item) }
            }
            consumed += UInt64(start)
            pending.removeSubrange(..<start)
            if pending.count > RecordingFormat.maxLineLength {  // not a recording line: drop
                consumed += UInt64(pending.count)
                pending.removeAll()
            }
            if start > 0 { deliver(items + [.cursor(consumed)]) }
        }
    }

    /// One line as a feed item: nil for the header, comments, blanks and malformed lines.
    static func item(_ line: String, lastPid: inout Int32) -> FeedItem? {
        guard let first = line.first, first != "#", !line.hasPrefix("encmon-recording"),
              !line.allSatisfy({ $0 == " " || $0 == "\t" }) else { return nil }
        _ = first
        guard let event = try? RecordingFormat.decode(line) else { return nil }
        switch event {
        case .conversion(let c) where c.pid > 0: lastPid = c.pid
        case .rejected(let r) where r.pid > 0: lastPid = r.pid
        case .lostEvents(let t, let count): return .lost(time: t, count: count)
        default: break
        }
        return lastPid > 0 ? .event(pid: lastPid, event) : nil
    }
}
