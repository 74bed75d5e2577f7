import CTracefs
import MonitorCore

/// Turns raw ring-buffer records into model events, reading fields by name through
/// libtraceevent: the same decoding for the live tracefs path and for trace.dat files.
///
/// Fields are resolved once per event id; each record is then bounds-checked against its own
/// size before a field is read, so a damaged trace file cannot make it read past the record.
public final class TraceEventDecoder {
    public enum Outcome: Equatable {
        case event(MonitorEvent)
        /// A record of an event encmon does not watch.
        case notWatched
        /// A watched event that is not a conversion (another GHCB MSR request).
        case skipped
        /// A watched event whose record is too short for its fields.
        case malformed
    }

    struct Field { var offset: Int; var size: Int; var pointer: UnsafeMutablePointer<tep_format_field> }
    struct Resolved { var role: WatchedEvent.Role; var fields: [Field] }

    private let tep: OpaquePointer
    private var byID: [Int32: Resolved] = [:]
    /// Which events were found, for the status line.
    public private(set) var decodedEvents: [WatchedEvent] = []
    /// The vCPU index of a thread id, where known (QEMU names vCPU threads `CPU n/KVM`).
    private let vcpuOfThread: (Int32) -> Int32

    /// A decoder that watches nothing yet: add events with `watch` or `watchRecognisedEvents`.
    public init(tep: OpaquePointer, vcpuOfThread: @escaping (Int32) -> Int32 = { _ in -1 }) {
        self.tep = tep
        self.vcpuOfThread = vcpuOfThread
    }

    /// Resolves `events` in `tep`. An event the kernel (or file) lacks is left out (the caller
    /// checks `decodedEvents`); one that exists but lacks a field throws.
    public func watch(_ events: [WatchedEvent]) throws(TracefsError) {
        for watched in events {
            guard let event = tep_find_event_by_name(tep, watched.system, watched.name) else { continue }
            try add(event, as: watched)
        }
    }

    /// Every event of `tep` encmon knows: the kvm events, and probe events whose fields are named
    /// like kvm_hypercall's (the uprobe stand-in). For trace.dat files; events with other
    /// fields are left out.
    public func watchRecognisedEvents() {
        guard let list = tep_list_events(tep, TEP_EVENT_SORT_ID) else { return }
        var i = 0
        while let event = list[i] {
            i += 1
            let system = event.pointee.system.map { String(cString: $0) } ?? ""
            let name = event.pointee.name.map { String(cString: $0) } ?? ""
            let known = [WatchedEvent.kvmHypercall, .snpPageStateChange].first { $0.system == system && $0.name == name }
            if let known {
                try? add(event, as: known)
            } else if tep_find_field(event, "__probe_ip") != nil {
                try? add(event, as: WatchedEvent(system: system, name: name, role: .hypercall))
            }
        }
    }

    private func add(_ event: UnsafeMutablePointer<tep_event>, as watched: WatchedEvent) throws(TracefsError) {
        var fields: [Field] = []
        for name in watched.fieldNames {
            guard let f = tep_find_field(event, name), [1, 2, 4, 8].contains(f.pointee.size), f.pointee.offset >= 0 else {
                throw .fieldMissing(system: watched.system, event: watched.name, field: name)
            }
            fields.append(Field(offset: Int(f.pointee.offset), size: Int(f.pointee.size), pointer: f))
        }
        byID[event.pointee.id] = Resolved(role: watched.role, fields: fields)
        decodedEvents.append(watched)
    }

    /// The model event for `record`, stamped with the record's time (nanoseconds of the trace
    /// clock, in seconds).
    public func decode(_ record: UnsafeMutablePointer<tep_record>) -> Outcome {
        // The common header (type, flags, preempt count, pid) is 8 bytes (§5 of the format files).
        let size = Int(record.pointee.size)
        guard let data = record.pointee.data, size >= 8 else { return .malformed }
        let type = tep_data_type(tep, record)
        guard let resolved = byID[type] else { return .notWatched }
        var values: [UInt64] = []
        values.reserveCapacity(resolved.fields.count)
        for f in resolved.fields {
            guard f.offset + f.size <= size else { return .malformed }
            var v: UInt64 = 0
            guard tep_read_number_field(f.pointer, data, &v) == 0 else { return .malformed }
            values.append(v)
        }
        let time = EventTime(record.pointee.ts) / 1e9
        let pid = tep_data_pid(tep, record)
        return Self.event(role: resolved.role, values: values, time: time, pid: pid, vcpu: vcpuOfThread(pid))
    }

    /// The pure part: field values (in `WatchedEvent.fieldNames` order) to a model event.
    public static func event(role: WatchedEvent.Role, values: [UInt64], time: EventTime, pid: Int32, vcpu: Int32) -> Outcome {
        switch role {
        case .hypercall:
            guard values.count == 4 else { return .malformed }
            if values[0] != MapGPARangeRequest.hypercallNumber { return .event(.otherHypercall(time: time, number: values[0])) }
            return .event(MapGPARangeRequest(gpa: values[1], pageCount: values[2], attributes: values[3])
                .event(time: time, vcpu: vcpu, pid: pid, path: .hypercall))
        case .pageStateChangeMSR:
            guard values.count == 2 else { return .malformed }
            guard let (gfn, toPrivate) = TraceLineParser.pageStateChange(values[1]) else { return .skipped }
            let vcpu = values[0] <= UInt64(Int32.max) ? Int32(values[0]) : -1
            return .event(MapGPARangeRequest(gpa: gfn << GuestPage.shift, pageCount: 1,
                                             attributes: toPrivate ? MapGPARangeRequest.encryptedBit : 0)
                .event(time: time, vcpu: vcpu, pid: pid, path: .pageStateChange))
        }
    }
}
