import SystemLibc
import CTracecmd
import MonitorCore

/// Why a trace.dat file could not be read.
public enum TraceDatError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)
    /// libtracecmd rejected the file (truncated, damaged, or a version it cannot read).
    case unreadable(path: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let e): "cannot open \(path): \(errnoText(e))"
        case .unreadable(let path): "\(path): not a trace.dat file libtracecmd can read (truncated, damaged or an unsupported version)"
        }
    }
}

/// What reading a trace.dat file found, besides its events.
public struct TraceDatSummary: Sendable, Equatable {
    /// Records in all buffers, decoded or not.
    public var records: UInt64 = 0
    /// Records of watched events too short for their fields.
    public var malformed: UInt64 = 0
    /// Events the tracer reported lost (the missed-events flag of a buffer page).
    public var lostEvents: UInt64 = 0
    /// Buffers read: "" for the top-level buffer, then instance names.
    public var buffers: [String] = []
    /// The events that were decoded (`system:name`).
    public var decodedEvents: [String] = []

    public init() {}

    /// Records that were neither one of the `decoded` events (lost-event markers not counted)
    /// nor malformed: other events, other GHCB requests.
    public func skippedRecords(decoded: UInt64) -> UInt64 {
        let used = decoded &+ malformed
        return records > used ? records - used : 0
    }
}

/// trace-cmd's `trace.dat` (any version libtracecmd reads), decoded with the live path's
/// `TraceEventDecoder`: the top-level buffer and every instance buffer, all CPUs, merged in time
/// order by libtracecmd.
public enum TraceDatFile {
    /// `\x17\x08\x44tracing`: the first ten bytes of every trace.dat (trace-cmd.h `TRACECMD_MAGIC`).
    public static let magic: [UInt8] = [0x17, 0x08, 0x44] + Array("tracing".utf8)

    /// True when the file starts with the trace.dat magic (the name does not matter).
    public static func hasMagic(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: magic.count)
        var used = 0
        while used < head.count {
            let n = head.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + used, $0.count - used) }
            if n < 0 { if errno == EINTR { continue }; return false }
            if n == 0 { break }
            used += n
        }
        return used == magic.count && head == magic
    }

    /// Reads every record, calling `emit` with each model event in time order.
    public static func readEvents(path: String, emit: (MonitorEvent) -> Void) throws(TraceDatError) -> TraceDatSummary {
        try withoutActuallyEscaping(emit) { emit throws(TraceDatError) in try readEscaping(path: path, emit: emit) }
    }

    private static func readEscaping(path: String, emit: @escaping (MonitorEvent) -> Void) throws(TraceDatError) -> TraceDatSummary {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        close(fd)
        tracecmd_set_loglevel(TEP_LOG_NONE)
        guard let top = tracecmd_open(path, Int32(TRACECMD_FL_LOAD_NO_PLUGINS.rawValue)) else { throw .unreadable(path: path) }
        defer { tracecmd_close(top) }

        var handles: [OpaquePointer?] = [top]
        var summary = TraceDatSummary()
        summary.buffers = [""]
        let instances = tracecmd_buffer_instances(top)
        var owned: [OpaquePointer] = []
        defer { owned.forEach { tracecmd_close($0) } }
        if instances > 0 {
            for i in 0..<instances {
                guard let h = tracecmd_buffer_instance_handle(top, i) else { continue }
                owned.append(h)
                handles.append(h)
                summary.buffers.append(tracecmd_buffer_instance_name(top, i).map { String(cString: $0) } ?? "instance \(i)")
            }
        }

        let pass = DatPass(emit: emit)
        let rc = withExtendedLifetime(pass) {
            handles.withUnsafeMutableBufferPointer { buffer in
                tracecmd_iterate_events_multi(buffer.baseAddress, Int32(buffer.count), { handle, record, _, context in
                    guard let handle, let record, let context else { return 0 }
                    Unmanaged<DatPass>.fromOpaque(context).takeUnretainedValue().handle(handle, record)
                    return 0
                }, Unmanaged.passUnretained(pass).toOpaque())
            }
        }
        if rc < 0 && pass.records == 0 { throw .unreadable(path: path) }
        summary.records = pass.records
        summary.malformed = pass.malformed
        summary.lostEvents = pass.lost
        summary.decodedEvents = Array(Set(pass.decoders.values.flatMap { d in d.decodedEvents.map { $0.description } })).sorted()
        return summary
    }
}

/// One read of a file: a decoder per event parser (instance buffers may carry their own).
private final class DatPass {
    let emit: (MonitorEvent) -> Void
    var decoders: [OpaquePointer: TraceEventDecoder] = [:]
    var records: UInt64 = 0
    var malformed: UInt64 = 0
    var lost: UInt64 = 0

    init(emit: @escaping (MonitorEvent) -> Void) { self.emit = emit }

    func handle(_ input: OpaquePointer, _ record: UnsafeMutablePointer<tep_record>) {
        records &+= 1
        guard let tep = tracecmd_get_tep(input) else { return }
        let decoder: TraceEventDecoder
        if let d = decoders[tep] {
            decoder = d
        } else {
            decoder = TraceEventDecoder(tep: tep, vcpuOfThread: { tid in
                tep_data_comm_from_pid(tep, tid).map { TracedProcess.vcpuIndex(threadName: String(cString: $0)) } ?? -1
            })
            decoder.watchRecognisedEvents()
            decoders[tep] = decoder
        }
        let time = EventTime(record.pointee.ts) / 1e9
        // Negative: events were lost but the kernel did not say how many (0 = unknown count).
        let missed = record.pointee.missed_events
        if missed != 0 {
            let count = missed > 0 ? UInt64(missed) : 0
            lost &+= count
            emit(.lostEvents(time: time, count: count))
        }
        switch decoder.decode(record) {
        case .event(let e): emit(e)
        case .malformed: malformed &+= 1
        case .notWatched, .skipped: break
        }
    }
}
