import MonitorCore
import Synchronization

/// The live tracefs source: MonitorCore's push source runs `TracefsEventReader.run` on its own
/// thread, so `poll` only drains a bounded channel and the screen never waits on the kernel.
/// `stop()` cancels, joins and removes the tracefs instance; it runs on every way out (and in
/// deinit).
public final class LiveTraceSource: EventSource {
    private let push: PushEventSource
    private let reader: ReaderBox

    /// Events held for the app loop at most; beyond it new events are dropped and counted
    /// (`status.overflowedEvents`).
    public static let capacity = 1 << 20

    public init(attachment: LiveTracing.Attachment, status: SourceStatus) throws(PushSourceError) {
        let box = ReaderBox(attachment.reader)
        reader = box
        push = try PushEventSource(status: status, clock: .monotonic, capacity: Self.capacity) { context in
            try box.run(context)
        }
    }

    deinit { stop() }

    public func start() throws(PushSourceError) { try push.start() }

    /// Cancels the reader (it looks at the flag between records and every 20 ms while idle),
    /// joins its thread and removes the instance. Idempotent.
    public func stop() {
        push.stop()
        reader.removeInstance()
    }

    public var clock: SourceClock { push.clock }

    public func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        try push.poll(until: until, limit: limit, into: &events)
    }

    public func peekNextTime() throws -> EventTime? { nil }

    public var status: SourceStatus { push.status }

    /// True once the watched process has exited (the reader read what it traced, then ended).
    public var processExited: Bool { reader.exited.load(ordering: .acquiring) }

    /// Why reading stopped early (instance removed, permission lost, a read error), once it has:
    /// the source then ends like a finished one, with everything read before delivered.
    public var fault: TracefsError? { reader.fault.withLock { $0 } }
}

/// The reader, handed to the producer thread. `@unchecked Sendable` is safe: `reader` is used
/// only by the push source's thread while it runs, and `removeInstance` is called only after
/// `PushEventSource.stop()` has joined that thread; `exited` is atomic and `fault` a mutex.
private final class ReaderBox: @unchecked Sendable {
    private let reader: TracefsEventReader
    let exited = Atomic<Bool>(false)
    let fault = Mutex<TracefsError?>(nil)

    init(_ reader: TracefsEventReader) { self.reader = reader }

    func run(_ context: PushContext) throws {
        let reader = self.reader
        let ending: TracefsEventReader.Ending
        do {
            ending = try reader.run(emit: { context.emit($0) }, cancelled: { context.isCancelled }, afterPass: {
                // Lost events travel as `.lostEvents` events (timed, recorded), not in the status.
                let (records, malformed) = (reader.recordsRead, reader.malformedRecords)
                context.updateStatus { s in
                    s.lines = records
                    s.malformedLines = malformed
                }
            })
        } catch {
            // Not thrown on: what was read is in the channel and the final state should show it;
            // the caller reports the fault once the session ends.
            fault.withLock { $0 = error }
            context.updateStatus { s in
                s.state = "tracing stopped"
                s.position = "\(error)"
            }
            return
        }
        if ending == .processExited {
            context.updateStatus { $0.state = "VM exited" }
            exited.store(true, ordering: .releasing)
        }
    }

    func removeInstance() { reader.instance.destroy() }
}
