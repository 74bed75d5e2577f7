#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import ArgumentParser
import LiveHost
import MonitorCore

extension EncmonCommand {
    /// `encmon --vm ID` (the default subcommand): the live source on the screen, as text frames,
    /// or as JSON Lines.
    struct Live: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Monitor a running VM live through tracefs (the default: 'encmon --vm ID').",
            discussion: """
                Creates an own tracefs instance limited to the VM's threads, enables kvm:kvm_hypercall \
                (nr == 12) and, where the kernel has it, kvm:kvm_vmgexit_msr_protocol_enter, and shows \
                the shared set from the moment encmon attached. Needs root. The instance is removed \
                on quit, signals and errors.
                """
        )
        @OptionGroup(title: "Live") var live: LiveOptions
        @OptionGroup(title: "Display") var display: DisplayOptions
        @OptionGroup(title: "Model") var model: ModelOptions

        func validate() throws { try live.validateForLive() }

        func run() throws {
            guard live.vm != nil else { throw CleanExit.helpRequest(EncmonCommand.self) }
            try live.run(display: display, model: model)
        }
    }
}

struct LiveOptions: ParsableArguments {
    @Option(name: .customLong("vm"), help: ArgumentHelp("Monitor a running VM: its QEMU process id (libvirt ids and names in a later version).", valueName: "ID"))
    var vm: String?

    @Option(name: .customLong("event"), help: ArgumentHelp("Watch this trace event instead of kvm:kvm_hypercall; it must have u64 fields nr, a0, a1, a2 (a uprobe, for tests). The process need not hold a VM.", valueName: "SYSTEM:NAME"))
    var event: String?

    @Option(help: ArgumentHelp("Append every live event to FILE in encmon's recording format ('encmon replay FILE' later).", valueName: "FILE"))
    var record: String?

    @Flag(help: "Print one JSON object per refresh, one a line (JSON Lines), until -n, the VM's exit or a signal.")
    var json = false

    func validateForLive() throws {
        if vm == nil, event != nil || record != nil || json {
            throw ValidationError("--event, --record and --json need --vm PID (or use 'encmon replay' / 'encmon demo')")
        }
        if let event, WatchedEvent(hypercallLike: event) == nil {
            throw ValidationError("--event must be SYSTEM:NAME, such as kvm:kvm_hypercall or mygroup:myprobe, not '\(event)'")
        }
        if let vm, LiveTarget.pid(vm) == nil {
            throw ValidationError("--vm takes a process id in this version, such as --vm 4242, not '\(vm)'")
        }
    }
}

/// Exit statuses of the live path (README "Exit status").
enum LiveExit {
    static let noSuchProcess: Int32 = 67
    static let notAVM: Int32 = 68
    static let tracefsUnavailable: Int32 = 69
    static let eventMissing: Int32 = 72
    static let readFailed: Int32 = 74
    static let noPermission: Int32 = 77

    static func code(for error: TracefsError) -> Int32 {
        switch error {
        case .notMounted, .cannotMount: tracefsUnavailable
        case .permissionDenied: noPermission
        case .cannotCreateInstance(_, let e): e == EACCES || e == EPERM ? noPermission : tracefsUnavailable
        case .eventMissing, .fieldMissing: eventMissing
        case .cannotLoadFormats, .writeFailed(_, _, _): tracefsUnavailable
        case .readFailed: readFailed
        }
    }
}

/// The watched process, resolved from `--vm`.
enum LiveTarget {
    static func pid(_ text: String) -> Int32? {
        guard let p = Int32(text), p > 0 else { return nil }
        return p
    }

    /// Whether `pid` holds a KVM VM descriptor (`anon_inode:kvm-vm` in /proc/PID/fd); nil when
    /// the descriptors cannot be read (no permission).
    static func holdsVM(_ pid: Int32) -> Bool? {
        guard let dir = opendir("/proc/\(pid)/fd") else { return nil }
        defer { closedir(dir) }
        var target = [CChar](repeating: 0, count: 256)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            guard Int(name) != nil else { continue }
            let n = readlink("/proc/\(pid)/fd/\(name)", &target, target.count - 1)
            guard n > 0 else { continue }
            let link = String(decoding: target[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link == "anon_inode:kvm-vm" { return true }
        }
        return false
    }
}

extension LiveOptions {
    func run(display: DisplayOptions, model: ModelOptions) throws {
        guard let vm, let pid = LiveTarget.pid(vm) else { return }
        guard TracedProcess.exists(pid) else {
            throw CommandFailure(message: "--vm \(vm): no process with id \(pid); 'ps' or 'virsh list' shows the running VMs", exitCode: LiveExit.noSuchProcess)
        }
        let custom = event.flatMap(WatchedEvent.init(hypercallLike:))
        switch LiveTarget.holdsVM(pid) {
        case true?: break
        case false?:
            guard custom != nil else {
                throw CommandFailure(message: "--vm \(vm): process \(pid) (\(TracedProcess.name(pid) ?? "?")) holds no KVM VM (no anon_inode:kvm-vm descriptor)", exitCode: LiveExit.notAVM)
            }
            StandardError.write("encmon: note: process \(pid) holds no KVM VM; watching its \(custom!) events only\n")
        case nil:
            guard geteuid() == 0 || custom != nil else {
                throw CommandFailure(message: "--vm \(vm): no permission to read the descriptors of process \(pid): run encmon as root", exitCode: LiveExit.noPermission)
            }
        }

        let attachment: LiveTracing.Attachment
        do { attachment = try LiveTracing.attach(pid: pid, customEvent: custom) } catch {
            throw CommandFailure(message: "\(error)", exitCode: LiveExit.code(for: error))
        }
        let since = WallTime.now()
        let name = "pid \(pid) (\(TracedProcess.name(pid) ?? "?"))"
        let live = LiveTraceSource(attachment: attachment, status: SourceStatus(
            kind: .live, name: name, position: "tracking since \(since.localClock)"))
        // Every way out removes the instance: normal end, signal, thrown error.
        defer { live.stop() }
        for note in attachment.notes { StandardError.write("encmon: note: \(note)\n") }
        StandardError.write("encmon: tracing \(name): \(attachment.events.map(\.description).joined(separator: ", ")) "
                            + "in tracefs instance \(attachment.reader.instance.name)\n")
        do { try live.start() } catch {
            throw CommandFailure(message: "\(error)", exitCode: LiveExit.code(for: error))
        }

        var source: any EventSource = live
        if let record {
            do {
                let writer = try RecordingWriter(path: record, comment: "encmon \(encmonVersion) --vm \(vm)\(event.map { " --event \($0)" } ?? "") since \(since.iso8601)")
                source = RecordingTap(live, writer: writer)
            } catch {
                throw CommandFailure(message: "--record: \(error)", exitCode: 73)
            }
        }

        var monitor = Monitor(configuration: model.configuration)
        var options = display.sessionOptions
        if json {
            options.json = true
            options.batchFrameFormatter = { snapshot, status in
                LiveJSON.line(snapshot, source: status, since: since)
            }
        }
        let outcome: SessionOutcome
        do {
            outcome = try runMonitorSession(source: source, monitor: &monitor, options: options)
        } catch let error as TracefsError {
            throw CommandFailure(message: "\(name): \(error)", exitCode: LiveExit.code(for: error))
        }
        if live.processExited { StandardError.write("encmon: \(name) exited; tracing stopped\n") }
        try outcome.exitIfSignalled()
    }
}

/// One JSON Lines record per refresh: the batch summary object with `since` after `source`.
enum LiveJSON {
    static func line(_ snapshot: MonitorSnapshot, source: SourceStatus, since: WallTime) -> String {
        guard case .object(var fields) = MonitorSummary.json(snapshot, source: source) else { return "{}" }
        let at = (fields.firstIndex { $0.0 == "source" } ?? -1) + 1
        fields.insert(("since", .string(since.iso8601)), at: at)
        fields.insert(("exited", .bool(source.position.hasPrefix("VM exited"))), at: at + 1)
        return JSONValue.object(fields).serialized()
    }
}

/// A wall-clock instant for "tracking since": local HH:MM:SS on screen, UTC ISO 8601 in JSON.
struct WallTime {
    var seconds: Int

    static func now() -> WallTime { WallTime(seconds: time(nil)) }

    var localClock: String { format("%H:%M:%S", utc: false) }
    var iso8601: String { format("%Y-%m-%dT%H:%M:%SZ", utc: true) }

    private func format(_ pattern: String, utc: Bool) -> String {
        var t = time_t(seconds)
        var parts = tm()
        if utc { gmtime_r(&t, &parts) } else { localtime_r(&t, &parts) }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
