import SystemLibc
import CTracefs
import MonitorCore

/// Reads an instance's per-CPU raw buffers (`trace_pipe_raw`, through libtracefs), decodes the
/// records with `TraceEventDecoder` and emits model events, oldest first. Lost events come from
/// the per-CPU `stats` overrun and dropped counters.
///
/// `run` is the body of the reader thread: it never touches the screen and checks `cancelled`
/// between records and at least every `pollInterval`.
///
/// libtracefs opens the per-CPU files for each pass (without O_CLOEXEC) and closes them before
/// the pass returns, so once the thread is joined nothing of the instance is open and it can be
/// removed; encmon spawns no children while a pass runs.
public final class TracefsEventReader {
    public enum Ending: Sendable, Equatable {
        case cancelled
        /// The watched process is gone (VM exited); everything it traced was read first.
        case processExited
    }

    public let instance: TracefsInstance
    public let decoder: TraceEventDecoder
    /// Owned: freed in deinit.
    private let tep: OpaquePointer
    /// Stop when this process exits; nil to run until cancelled.
    private let watchedPid: Int32?
    public var pollInterval: Double = 0.1
    private var lastStats: [RingBufferStats]
    public private(set) var recordsRead: UInt64 = 0
    public private(set) var malformedRecords: UInt64 = 0
    public private(set) var lostEvents: UInt64 = 0

    init(instance: TracefsInstance, tep: OpaquePointer, decoder: TraceEventDecoder, watchedPid: Int32?) {
        self.instance = instance
        self.tep = tep
        self.decoder = decoder
        self.watchedPid = watchedPid
        lastStats = Array(repeating: RingBufferStats(), count: Self.cpuCount)
    }

    deinit { tep_free(tep) }

    static var cpuCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_CONF))) }

    /// Reads until cancelled or until the watched process exits; `afterPass` runs after each
    /// pass over the buffers (the caller hands its batch on there).
    public func run(emit: (MonitorEvent) -> Void, cancelled: () -> Bool,
                    afterPass: () -> Void = {}) throws(TracefsError) -> Ending {
        while !cancelled() {
            try drain(emit: emit, cancelled: cancelled)
            afterPass()
            if let pid = watchedPid, !TracedProcess.isRunning(pid) {
                // Whatever it traced before exiting is already in the buffers: read it, then stop.
                try drain(emit: emit, cancelled: cancelled)
                return .processExited
            }
            sleepChecking(cancelled)
        }
        return .cancelled
    }

    /// One pass: every record in the buffers now, then the lost-event counters.
    public func drain(emit: (MonitorEvent) -> Void, cancelled: () -> Bool) throws(TracefsError) {
        try withoutActuallyEscaping(emit) { emit throws(TracefsError) in
            try withoutActuallyEscaping(cancelled) { cancelled throws(TracefsError) in
                let pass = ReadPass(decoder: decoder, emit: emit, cancelled: cancelled)
                errno = 0
                let rc = withExtendedLifetime(pass) {
                    tracefs_iterate_raw_events(tep, instance.handle, nil, 0, { _, record, _, context in
                        guard let record, let context else { return 0 }
                        let pass = Unmanaged<ReadPass>.fromOpaque(context).takeUnretainedValue()
                        return pass.handle(record)
                    }, Unmanaged.passUnretained(pass).toOpaque())
                }
                recordsRead &+= pass.records
                malformedRecords &+= pass.malformed
                if rc < 0, !cancelled() { throw readFailure(errno: errno == 0 ? EIO : errno) }
            }
        }
        readLostCounters(emit: emit)
    }

    /// Why a pass failed: the instance is gone, reading it is no longer allowed, or another error.
    private func readFailure(errno e: Int32) -> TracefsError {
        if !instance.exists { return .instanceRemoved(name: instance.name) }
        if e == EACCES || e == EPERM { return .readDenied(path: "instances/\(instance.name)/per_cpu") }
        return .readFailed(errno: e)
    }

    /// Emits the growth of the per-CPU overrun and dropped counters as lost events.
    private func readLostCounters(emit: (MonitorEvent) -> Void) {
        var grown: UInt64 = 0
        for cpu in lastStats.indices {
            guard let text = instance.read("per_cpu/cpu\(cpu)/stats"), let now = RingBufferStats(statsText: text) else { continue }
            if now.lost > lastStats[cpu].lost { grown &+= now.lost - lastStats[cpu].lost }
            lastStats[cpu] = now
        }
        if grown > 0 {
            lostEvents &+= grown
            emit(.lostEvents(time: SourceClock.monotonicNow(), count: grown))
        }
    }

    private func sleepChecking(_ cancelled: () -> Bool) {
        let end = SourceClock.monotonicNow() + pollInterval
        while !cancelled() {
            let left = end - SourceClock.monotonicNow()
            if left <= 0 { return }
            var ts = timespec(tv_sec: 0, tv_nsec: Int(min(left, 0.02) * 1e9))
            nanosleep(&ts, nil)
        }
    }
}

/// What one `tracefs_iterate_raw_events` call needs in its C callback.
private final class ReadPass {
    let decoder: TraceEventDecoder
    let emit: (MonitorEvent) -> Void
    let cancelled: () -> Bool
    var records: UInt64 = 0
    var malformed: UInt64 = 0

    init(decoder: TraceEventDecoder, emit: @escaping (MonitorEvent) -> Void, cancelled: @escaping () -> Bool) {
        self.decoder = decoder; self.emit = emit; self.cancelled = cancelled
    }

    /// Non-zero stops the iteration (on quit).
    func handle(_ record: UnsafeMutablePointer<tep_record>) -> Int32 {
        records &+= 1
        switch decoder.decode(record) {
        case .event(let e): emit(e)
        case .malformed: malformed &+= 1
        case .notWatched, .skipped: break
        }
        return cancelled() ? 1 : 0
    }
}
