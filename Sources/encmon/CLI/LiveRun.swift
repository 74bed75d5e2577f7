import SystemLibc
import ArgumentParser
import LiveHost
import MonitorCore

/// Exit statuses of the live path (README "Exit status"); resolving `--vm` uses `HostVMError.exitCode`.
enum LiveExit {
    static let tracefsUnavailable: Int32 = 69
    static let cannotStart: Int32 = 71
    static let eventMissing: Int32 = 72
    static let readFailed: Int32 = 74
    static let noPermission: Int32 = 77

    static func code(for error: TracefsError) -> Int32 {
        switch error {
        case .notMounted, .cannotMount: tracefsUnavailable
        case .permissionDenied: noPermission
        case .cannotCreateInstance(_, let e): e == EACCES || e == EPERM ? noPermission : tracefsUnavailable
        case .eventMissing, .fieldMissing: eventMissing
        case .cannotLoadFormats, .writeFailed: tracefsUnavailable
        case .readFailed, .instanceRemoved: readFailed
        case .readDenied: noPermission
        }
    }
}

extension LiveOptions {
    /// The VM `--vm` names (libvirt id or name, QEMU -name, pid); with `--event` a process that
    /// holds no VM is accepted, with a note.
    func resolveTarget(_ vm: String, custom: WatchedEvent?) throws -> LiveTarget {
        do {
            let found = try HostVMDiscovery().resolve(vm)
            return LiveTarget(pid: found.pid, label: found.label, vm: found)
        } catch {
            if let custom, case .notAVM(let pid, let command) = error {
                StandardError.write("encmon: note: process \(pid) (\(command)) holds no KVM VM; watching its \(custom) events only\n")
                return LiveTarget(pid: pid, label: "pid \(pid) (\(command))", vm: nil)
            }
            throw CommandFailure(message: "--vm \(vm): \(error)", exitCode: error.exitCode)
        }
    }

    /// `--vm` given as a name (not a number): the full screen waits for a VM of that name to return.
    static func reattachName(_ vm: String) -> String? {
        Int(vm) == nil && !vm.isEmpty ? vm : nil
    }

    func run(display: DisplayOptions, model: ModelOptions, qmp: QMPOptions) throws {
        guard let vm else { return }
        // A signal while the instance is set up must not kill encmon before it can remove it:
        // record it now, act on it before the session (which installs its own handlers) starts.
        var setupSignals = SessionSignalHandlers()
        defer { setupSignals.restore() }
        let custom = event.flatMap(WatchedEvent.init(hypercallLike:))
        let target = try resolveTarget(vm, custom: custom)
        let counterInterval = max(0.25, display.delay)
        let say: (String) -> Void = { StandardError.write("encmon: \($0)\n") }
        let first = try LiveGuestFeed(target: target, options: self, counterInterval: counterInterval,
                                      position: { "tracking since \($0.localClock)" }, say: say)
        let liveOptions = self
        // Re-attaching happens while the screen is up: notes would scribble over it, so they are dropped.
        let reattaching = ReattachingLiveSource(first: first, name: Self.reattachName(vm), reattach: !json) { target throws(CommandFailure) in
            try LiveGuestFeed(target: target, options: liveOptions, counterInterval: counterInterval,
                              position: { "re-attached at \($0.localClock) to pid \(target.pid), model reset" }, say: { _ in })
        }
        // Every way out removes the instance: normal end, signal, thrown error.
        defer { reattaching.stop() }

        let qmpSource = try qmp.qmpSource()
        defer { qmpSource?.stop() }
        var source: any EventSource = qmpSource.map { MergedEventSource([reattaching, $0]) } ?? reattaching
        if let record {
            do {
                let writer = try RecordingWriter(path: record, comment: "encmon \(encmonVersion) --vm \(vm)\(event.map { " --event \($0)" } ?? "") since \(first.since.iso8601)")
                source = RecordingTap(source, writer: writer)
            } catch {
                throw CommandFailure(message: "--record: \(error)", exitCode: 73)
            }
        }

        var monitor = Monitor(configuration: model.configuration)
        monitor.apply(first.initialEvents)
        var options = display.sessionOptions
        // Batch and JSON runs end with the VM (a later VM of that name is another run).
        options.enteringBatchMode = { reattaching.reattach = false }
        if json {
            options.json = true
            let since = first.fullState ? nil : first.since
            options.batchFrameFormatter = { snapshot, status in
                LiveJSON.line(snapshot, source: status, since: since, exited: reattaching.processExited)
            }
        }
        if let signal = SessionSignalHandlers.pending { throw ExitCode(128 + signal) }
        setupSignals.restore()
        let outcome: SessionOutcome
        do {
            outcome = try runMonitorSession(source: source, monitor: &monitor, options: options)
        } catch let error as TracefsError {
            throw CommandFailure(message: "\(target.label): \(error)", exitCode: LiveExit.code(for: error))
        }
        if reattaching.processExited { StandardError.write("encmon: \(reattaching.status.name) exited; tracing stopped\n") }
        if let fault = reattaching.fault {
            // After the final frame (batch) or the kept screen (interactive): one line, its own status.
            StandardError.write("encmon: \(reattaching.status.name): \(fault)\n")
            try outcome.exitIfSignalled()
            throw ExitCode(LiveExit.code(for: fault))
        }
        try outcome.exitIfSignalled()
    }
}

extension LiveOptions {
    /// On a kernel with the SEV live-migration series' state-reading ioctl, the whole shared set at
    /// attach (then there is no "since"); elsewhere a note, and the events start from now.
    static func readStateAtAttach(_ vm: HostVM, since: WallTime, say: (String) -> Void) -> (events: [MonitorEvent], position: String?) {
        switch SEVMigrationStateProbe.read(pid: vm.pid, guestPages: vm.memoryBytes.map { $0 / 4096 }) {
        case .sharedRanges(let ranges, let source):
            let now = SourceClock.monotonicNow()
            // The state comes from the series' kernel, the same origin as its kernel-log path.
            let events = [MonitorEvent.marker(time: now, text: "shared state read at attach: \(source)")]
                + ranges.map { .conversion(Conversion(time: now, pages: $0, direction: .toShared, path: .kernelLog)) }
            return (events, "full state read at attach (\(source))")
        case .notAvailable(let reason):
            say("note: the shared set before \(since.localClock) is unknown: no state-reading ioctl (\(reason))")
            return ([], nil)
        }
    }
}

/// KVM binary statistics of the VM (hypercalls, exits, ...) as counter events, polled on their own
/// thread. nil, with a note, where the process's statistics cannot be reached.
enum KVMCounterSource {
    static func start(pid: Int32, interval: Double, say: (String) -> Void) -> PushEventSource? {
        let poller: KVMStatsPoller
        do { poller = try KVMStatsPoller(pid: pid) } catch {
            say("note: no KVM statistics: \(error)")
            return nil
        }
        let milliseconds = Int32(min(interval, 60) * 1000)
        let source = try? PushEventSource(status: SourceStatus(kind: .live, name: "KVM statistics of pid \(pid)"), clock: .monotonic) { context in
            while !context.isCancelled {
                // The VM's exit ends the counters too; a read error ends them while tracing goes on.
                guard let events = try? poller.poll() else { return }
                events.forEach { context.emit($0) }
                if try waitForReadable(context.cancellation.fileDescriptor, or: context.cancellation,
                                       timeoutMilliseconds: milliseconds) == .cancelled { return }
            }
        }
        guard let source, (try? source.start()) != nil else { return nil }
        return source
    }
}
