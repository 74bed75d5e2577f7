import SystemLibc
import LiveHost
import MonitorCore
import Synchronization

/// The daemon's kernel feed: ONE encmon-owned tracefs instance with no pid filter, so every
/// process that fires the traced event reaches the ring buffer; each event is attributed to the
/// process (tgid) of the thread in its `common_pid`. Lost events come from the instance's per-CPU
/// ring-buffer stats. `stop()` joins the reader thread and removes the instance.
///
/// The instance is named after the state directory (`instanceName(stateDirectory:)`) and removed
/// on every orderly exit. After a crash (SIGKILL) it stays, tracing on, and the next daemon with
/// the same state directory reuses it: events fired in the gap are read then, and an overflow in
/// the gap shows as lost events (the stats counters start from zero in the new reader).
public final class TracefsProcessFeed: ProcessEventFeed {
    public let description: String
    /// Things to tell the operator once (tracefs mounted, stale instances removed, SNP event missing).
    public let notes: [String]
    private let reader: ReaderHandle
    private let state = Mutex<(stopped: Bool, thread: pthread_t?)>((false, nil))

    /// Sets up the instance: `kvm:kvm_hypercall` (filter nr == 12, plus the SNP page-state event
    /// where the kernel has it) or `customEvent` (`--event`, a hypercall-like event).
    public init(customEvent: WatchedEvent?, bufferKilobytes: Int? = nil, instanceName: String? = nil) throws(TracefsError) {
        let attachment = try LiveTracing.attachAllProcesses(customEvent: customEvent, bufferKilobytes: bufferKilobytes,
                                                            instanceName: instanceName)
        reader = ReaderHandle(attachment.reader)
        notes = attachment.notes
        description = "tracefs " + attachment.events.map(\.description).joined(separator: ", ")
            + " (instance \(attachment.reader.instance.name))"
    }

    deinit { stop() }

    /// `encmon-serve-<FNV-1a of the absolute state directory path, hex>`: one per state directory,
    /// stable across restarts, and not of the `encmon-<pid>-<n>` form that is removed as stale.
    public static func instanceName(stateDirectory: String) -> String {
        var cwd = ""
        if !stateDirectory.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buffer, buffer.count) != nil {
                cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return instanceName(stateDirectory: stateDirectory, workingDirectory: cwd)
    }

    /// The same name for a daemon that runs in `workingDirectory` (read from `/proc/PID/cwd` when
    /// another encmon looks for running daemons).
    static func instanceName(stateDirectory: String, workingDirectory: String) -> String {
        let path = stateDirectory.hasPrefix("/") || workingDirectory.isEmpty ? stateDirectory : workingDirectory + "/" + stateDirectory
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in path.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
        return "encmon-serve-" + String(hash, radix: 16)
    }

    /// The tracefs instance's name (for logs and tests).
    public var instanceName: String { reader.instanceName }

    /// Starts the reader thread. The ring buffer has no cursor to resume at: `resumeCursor` is ignored.
    public func start(resumeCursor: UInt64?, deliver: @escaping @Sendable ([FeedItem]) -> Void) throws {
        let loop = ReaderLoop(reader: reader, deliver: deliver, stopped: { [self] in state.withLock { $0.stopped } })
        var t = pthread_t()
        let box = Unmanaged.passRetained(loop)
        let rc = pthread_create(&t, nil, { raw in
            Unmanaged<ReaderLoop>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            throw DaemonError.feed("cannot start the tracefs reader thread: \(String(cString: strerror(rc)))")
        }
        state.withLock { $0.thread = t }
    }

    /// Stops and joins the reader, then removes the instance. Idempotent.
    public func stop() {
        let t = state.withLock { s -> pthread_t? in
            s.stopped = true
            defer { s.thread = nil }
            return s.thread
        }
        if let t { pthread_join(t, nil) }
        reader.removeInstance()
    }

    /// The process an event belongs to: the thread group of the thread that fired it; the thread
    /// id itself when the thread is already gone (a single-threaded process's tid is its pid).
    static func owner(ofThread tid: Int32, cache: inout [Int32: Int32]) -> Int32 {
        if let known = cache[tid] { return known }
        let owner = TracedProcess.threadGroup(ofThread: tid) ?? tid
        cache[tid] = owner
        return owner
    }

    /// A decoded event as a feed item: conversions and rejections by their thread's process,
    /// lost events as losses; events that name no thread are dropped.
    static func item(_ event: MonitorEvent, cache: inout [Int32: Int32]) -> FeedItem? {
        switch event {
        case .conversion(let c) where c.pid > 0: .event(pid: owner(ofThread: c.pid, cache: &cache), event)
        case .rejected(let r) where r.pid > 0: .event(pid: owner(ofThread: r.pid, cache: &cache), event)
        case .lostEvents(let time, let count): .lost(time: time, count: count)
        default: nil
        }
    }
}

/// The reader and its instance. `@unchecked Sendable` is safe: `reader` is used only by the one
/// reader thread while it runs, and `removeInstance` touches it only after `stop()` has set the
/// stop flag and joined that thread (or when no thread was started); the lock makes removal
/// single.
private final class ReaderHandle: @unchecked Sendable {
    let reader: TracefsEventReader
    let instanceName: String
    private let removed = Mutex<Bool>(false)

    init(_ reader: TracefsEventReader) {
        self.reader = reader
        instanceName = reader.instance.name
    }

    func removeInstance() {
        removed.withLock { done in
            guard !done else { return }
            done = true
            reader.instance.destroy()
        }
    }
}

/// The reader thread: passes over the buffers, hands each pass's items to the daemon.
private final class ReaderLoop: Sendable {
    let reader: ReaderHandle
    let deliver: @Sendable ([FeedItem]) -> Void
    let stopped: @Sendable () -> Bool

    init(reader: ReaderHandle, deliver: @escaping @Sendable ([FeedItem]) -> Void, stopped: @escaping @Sendable () -> Bool) {
        self.reader = reader; self.deliver = deliver; self.stopped = stopped
    }

    func run() {
        var batch: [FeedItem] = []
        // Thread -> process, per pass: a thread id reused later is looked up again.
        var owners: [Int32: Int32] = [:]
        do {
            _ = try reader.reader.run(emit: { event in
                if let item = TracefsProcessFeed.item(event, cache: &owners) { batch.append(item) }
            }, cancelled: stopped, afterPass: {
                if !batch.isEmpty { deliver(batch) }
                batch.removeAll(keepingCapacity: true)
                owners.removeAll(keepingCapacity: true)
            })
        } catch {
            // A failed read loses what the buffers held from now on: every tracked process is
            // incomplete from here.
            if !batch.isEmpty { deliver(batch) }
            deliver([.lost(time: SourceClock.monotonicNow(), count: nil)])
            let line = "encmon serve: tracefs reader stopped: \(error)\n"
            _ = line.utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress!, $0.count - 1) }
        }
    }
}
