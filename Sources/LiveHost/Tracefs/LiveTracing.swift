import SystemLibc
import CTracefs
import MonitorCore

/// Sets up live tracing of one process: tracefs found (or mounted), stale encmon instances
/// removed, a fresh instance with the events enabled, filtered and limited to the process's
/// threads, on the `mono` clock. Any failure removes the instance before it throws.
public enum LiveTracing {
    public struct Attachment {
        public let reader: TracefsEventReader
        /// Things to tell the user once (tracefs mounted, SNP event missing, stale instances removed).
        public let notes: [String]
        /// The events actually enabled.
        public let events: [WatchedEvent]
    }

    /// `customEvent` replaces the kvm events (`--event`); otherwise `kvm:kvm_hypercall` is
    /// required and the SNP page-state-change event is added where the kernel has it.
    /// `bufferKilobytes` sets the instance's per-CPU buffer size (the kernel default when nil).
    public static func attach(pid: Int32, customEvent: WatchedEvent? = nil, bufferKilobytes: Int? = nil) throws(TracefsError) -> Attachment {
        try attach(onlyPid: pid, customEvent: customEvent, bufferKilobytes: bufferKilobytes)
    }

    /// As `attach(pid:)` but with no pid filter: every process that fires the events reaches the
    /// buffer (the daemon's one instance for all VMs). Events carry the firing thread's
    /// `common_pid`; the caller attributes them to processes (`TracedProcess.threadGroup`).
    /// `instanceName` names a persistent instance (`TracefsInstance(persistentName:)`), reused
    /// with its buffer when it exists.
    public static func attachAllProcesses(customEvent: WatchedEvent? = nil, bufferKilobytes: Int? = nil,
                                          instanceName: String? = nil) throws(TracefsError) -> Attachment {
        try attach(onlyPid: nil, customEvent: customEvent, bufferKilobytes: bufferKilobytes, instanceName: instanceName)
    }

    private static func attach(onlyPid pid: Int32?, customEvent: WatchedEvent?, bufferKilobytes: Int?,
                               instanceName: String? = nil) throws(TracefsError) -> Attachment {
        var notes: [String] = []
        let (dir, mountedNow) = try TracefsMount.locate()
        if mountedNow { notes.append("tracefs was not mounted; mounted it at \(dir)") }
        // tracefs is root-only by default (mode 0700): say so rather than "event missing".
        guard access(dir + "/instances", W_OK | X_OK) == 0 else { throw .permissionDenied(path: dir) }
        let removed = TracefsInstance.removeStale()
        if !removed.isEmpty { notes.append("removed tracefs instances left by encmon processes that no longer run: \(removed.joined(separator: ", "))") }

        var events: [WatchedEvent]
        if let customEvent {
            guard eventExists(customEvent) else { throw .eventMissing(system: customEvent.system, event: customEvent.name) }
            events = [customEvent]
        } else {
            guard eventExists(.kvmHypercall) else { throw .eventMissing(system: "kvm", event: "kvm_hypercall") }
            events = [.kvmHypercall]
            if eventExists(.snpPageStateChange) {
                events.append(.snpPageStateChange)
            } else {
                notes.append("this kernel has no kvm:kvm_vmgexit_msr_protocol_enter; SNP page-state changes are not seen")
            }
        }

        let systems = Array(Set(events.map(\.system))).sorted()
        guard let tep = loadFormats(tracingDir: dir, systems: systems) else { throw .cannotLoadFormats(systems: systems) }
        let decoder = TraceEventDecoder(tep: tep, vcpuOfThread: { tid in
            let owner = pid ?? TracedProcess.threadGroup(ofThread: tid) ?? tid
            return TracedProcess.threadName(pid: owner, tid: tid).map(TracedProcess.vcpuIndex(threadName:)) ?? -1
        })
        do {
            try decoder.watch(events)
        } catch {
            tep_free(tep)
            throw error
        }

        let instance: TracefsInstance
        do {
            if let instanceName { instance = try TracefsInstance(persistentName: instanceName) } else { instance = try TracefsInstance() }
        } catch {
            tep_free(tep)
            throw error
        }
        // From here the reader owns tep and instance; an error below destroys the instance.
        let reader = TracefsEventReader(instance: instance, tep: tep, decoder: decoder, watchedPid: pid)
        do {
            try instance.setClock("mono")
            if instance.reused { notes.append("reading tracefs instance \(instance.name) kept from an earlier run") }
            if let bufferKilobytes { try instance.setBufferSize(kilobytes: bufferKilobytes) }
            if let pid {
                let threads = TracedProcess.threads(of: pid)
                try instance.limitEvents(toThreads: threads.isEmpty ? [pid] : threads, followForks: true)
            }
            for event in events { try instance.enable(system: event.system, event: event.name, filter: event.filter) }
        } catch {
            instance.destroy()
            throw error
        }
        return Attachment(reader: reader, notes: notes, events: events)
    }

    static func eventExists(_ event: WatchedEvent) -> Bool {
        tracefs_event_file_exists(nil, event.system, event.name, "format")
    }

    private static func loadFormats(tracingDir: String, systems: [String]) -> OpaquePointer? {
        var cStrings = systems.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        cStrings.append(nil)
        return cStrings.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                tracefs_local_events_system(tracingDir, $0)
            }
        }
    }
}
