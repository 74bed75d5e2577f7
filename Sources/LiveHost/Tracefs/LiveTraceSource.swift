#if canImport(Glibc)
import Glibc
#endif
import MonitorCore
import Synchronization

/// The live tracefs source: a reader thread runs `TracefsEventReader.run` and hands events to the
/// app loop through a bounded buffer; `poll` only drains it, so the screen never waits on the
/// kernel. `stop()` cancels, joins and removes the instance; it runs on every way out.
///
/// Until MonitorCore's push primitive lands this is the thread bridge; the reader keeps the
/// `run(emit:cancelled:)` shape so the swap is local to this file.
public final class LiveTraceSource: EventSource {
    private let shared: SharedState
    private var reader: TracefsEventReader?
    private var thread: pthread_t?
    private var baseStatus: SourceStatus
    private var exitNoted = false

    /// Events held for the app loop at most; beyond it new events are dropped and counted.
    public static let capacity = 1 << 20

    public init(attachment: LiveTracing.Attachment, status: SourceStatus) {
        reader = attachment.reader
        baseStatus = status
        shared = SharedState()
    }

    deinit { stop() }

    /// Starts the reader thread.
    public func start() throws(TracefsError) {
        guard thread == nil, let reader else { return }
        let body = ReaderThreadBody(reader: reader, shared: shared)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let body = Unmanaged<ReaderThreadBody>.fromOpaque(arg!).takeRetainedValue()
            body.run()
            return nil
        }, Unmanaged.passRetained(body).toOpaque())
        guard rc == 0 else { throw .readFailed(errno: rc) }
        thread = t
    }

    /// Cancels the reader, waits for it (it checks the flag at least every 20 ms) and removes the
    /// tracefs instance. Idempotent.
    public func stop() {
        shared.cancelled.store(true, ordering: .relaxed)
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
        reader?.instance.destroy()
        reader = nil
    }

    public func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        let (finished, error) = shared.state.withLock { s -> (Bool, TracefsError?) in
            let n = min(limit, s.events.count - s.head)
            if n > 0 {
                events.append(contentsOf: s.events[s.head..<(s.head + n)])
                s.head += n
                if s.head == s.events.count { s.events.removeAll(keepingCapacity: true); s.head = 0 }
            }
            return (s.ending != nil && s.head == s.events.count, s.error)
        }
        if let error { throw error }
        return !finished
    }

    public func peekNextTime() throws -> EventTime? { nil }

    public var status: SourceStatus {
        var s = baseStatus
        shared.state.withLock { st in
            s.lines = st.records
            s.malformedLines = st.malformed
            s.droppedEvents = st.lost &+ st.overflow
            if st.ending == .processExited {
                s.position = "VM exited; " + s.position
            }
        }
        return s
    }

    /// True once the watched process has exited.
    public var processExited: Bool { shared.state.withLock { $0.ending == .processExited } }
}

/// State shared between the reader thread and the app loop; every access holds the mutex.
private final class SharedState: Sendable {
    struct State {
        var events: [MonitorEvent] = []
        var head = 0
        var records: UInt64 = 0
        var malformed: UInt64 = 0
        var lost: UInt64 = 0
        /// Events dropped because the app loop fell `capacity` behind.
        var overflow: UInt64 = 0
        var ending: TracefsEventReader.Ending?
        var error: TracefsError?
    }
    let state = Mutex(State())
    let cancelled = Atomic<Bool>(false)
}

/// What the reader thread runs. `@unchecked Sendable` is safe: the reader is used only by this
/// thread between `start()` and the `pthread_join` in `stop()`; the owner does not touch it in
/// that time, and everything shared goes through `SharedState`'s mutex and atomic.
private final class ReaderThreadBody: @unchecked Sendable {
    let reader: TracefsEventReader
    let shared: SharedState
    private var pending: [MonitorEvent] = []

    init(reader: TracefsEventReader, shared: SharedState) { self.reader = reader; self.shared = shared }

    func run() {
        // Signals are the app loop's: block them here so they interrupt its sleep, not this one.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)

        let cancelled = { self.shared.cancelled.load(ordering: .relaxed) }
        var ending: TracefsEventReader.Ending?
        var failure: TracefsError?
        do {
            ending = try reader.run(emit: { self.pending.append($0); if self.pending.count >= 4096 { self.flush() } },
                                    cancelled: cancelled, afterPass: { self.flush() })
        } catch {
            failure = error
            ending = .cancelled
        }
        flush()
        shared.state.withLock { s in
            s.ending = ending
            s.error = failure
        }
    }

    /// Hands the batch to the app loop in one lock, with the reader's counters.
    private func flush() {
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        let (records, malformed, lost) = (reader.recordsRead, reader.malformedRecords, reader.lostEvents)
        shared.state.withLock { s in
            let room = max(0, LiveTraceSource.capacity - (s.events.count - s.head))
            if batch.count > room {
                s.events.append(contentsOf: batch.prefix(room))
                s.overflow &+= UInt64(batch.count - room)
            } else {
                s.events.append(contentsOf: batch)
            }
            s.records = records
            s.malformed = malformed
            s.lost = lost
        }
    }
}
