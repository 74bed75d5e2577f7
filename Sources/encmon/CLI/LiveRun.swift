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
        case .readFailed: readFailed
        }
    }
}

extension LiveOptions {
    /// The VM `--vm` names (libvirt id or name, QEMU -name, pid); with `--event` a process that
    /// holds no VM is accepted, with a note.
    func resolveTarget(_ vm: String, custom: WatchedEvent?) throws -> (pid: Int32, label: String, vm: HostVM?) {
        do {
            let found = try HostVMDiscovery().resolve(vm)
            return (found.pid, found.label, found)
        } catch {
            if let custom, case .notAVM(let pid, let command) = error {
                StandardError.write("encmon: note: process \(pid) (\(command)) holds no KVM VM; watching its \(custom) events only\n")
                return (pid, "pid \(pid) (\(command))", nil)
            }
            throw CommandFailure(message: "--vm \(vm): \(error)", exitCode: error.exitCode)
        }
    }

    func run(display: DisplayOptions, model: ModelOptions, qmp: QMPOptions) throws {
        guard let vm else { return }
        // A signal while the instance is set up must not kill encmon before it can remove it:
        // record it now, act on it before the session (which installs its own handlers) starts.
        var setupSignals = SessionSignalHandlers()
        defer { setupSignals.restore() }
        let custom = event.flatMap(WatchedEvent.init(hypercallLike:))
        let target = try resolveTarget(vm, custom: custom)

        let attachment: LiveTracing.Attachment
        do { attachment = try LiveTracing.attach(pid: target.pid, customEvent: custom, bufferKilobytes: bufferSize) } catch {
            throw CommandFailure(message: "\(error)", exitCode: LiveExit.code(for: error))
        }
        let since = WallTime.now()
        let initialState = target.vm.map { readStateAtAttach($0, since: since) }
        let live: LiveTraceSource
        do {
            live = try LiveTraceSource(attachment: attachment, status: SourceStatus(
                kind: .live, name: target.label, position: initialState?.position ?? "tracking since \(since.localClock)"))
        } catch {
            attachment.reader.instance.destroy()
            throw CommandFailure(message: "\(error)", exitCode: LiveExit.cannotStart)
        }
        // Every way out removes the instance: normal end, signal, thrown error.
        defer { live.stop() }
        for note in attachment.notes { StandardError.write("encmon: note: \(note)\n") }
        StandardError.write("encmon: tracing \(target.label): \(attachment.events.map(\.description).joined(separator: ", ")) "
                            + "in tracefs instance \(attachment.reader.instance.name)\n")
        do { try live.start() } catch {
            throw CommandFailure(message: "\(error)", exitCode: LiveExit.cannotStart)
        }
        let counters = target.vm != nil ? KVMCounterSource.start(pid: target.pid, interval: max(0.25, display.delay)) : nil
        defer { counters?.stop() }

        let qmpSource = try qmp.qmpSource()
        defer { qmpSource?.stop() }
        let others: [any EventSource] = [counters, qmpSource].compactMap { $0 }
        var source: any EventSource = others.isEmpty ? live : MergedEventSource([live] + others)
        if let record {
            do {
                let writer = try RecordingWriter(path: record, comment: "encmon \(encmonVersion) --vm \(vm)\(event.map { " --event \($0)" } ?? "") since \(since.iso8601)")
                source = RecordingTap(source, writer: writer)
            } catch {
                throw CommandFailure(message: "--record: \(error)", exitCode: 73)
            }
        }

        var monitor = Monitor(configuration: model.configuration)
        if let initialState { monitor.apply(initialState.events) }
        let fullState = initialState?.events.isEmpty == false
        var options = display.sessionOptions
        if json {
            options.json = true
            options.batchFrameFormatter = { snapshot, status in
                LiveJSON.line(snapshot, source: status, since: fullState ? nil : since, exited: live.processExited)
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
        if live.processExited { StandardError.write("encmon: \(target.label) exited; tracing stopped\n") }
        try outcome.exitIfSignalled()
    }
}

extension LiveOptions {
    /// On a kernel with the SEV live-migration series' state-reading ioctl, the whole shared set at
    /// attach (then there is no "since"); elsewhere a note, and the events start from now.
    func readStateAtAttach(_ vm: HostVM, since: WallTime) -> (events: [MonitorEvent], position: String?) {
        switch SEVMigrationStateProbe.read(pid: vm.pid, guestPages: vm.memoryBytes.map { $0 / 4096 }) {
        case .sharedRanges(let ranges, let source):
            let now = SourceClock.monotonicNow()
            // The state comes from the series' kernel, the same origin as its kernel-log path.
            let events = [MonitorEvent.marker(time: now, text: "shared state read at attach: \(source)")]
                + ranges.map { .conversion(Conversion(time: now, pages: $0, direction: .toShared, path: .kernelLog)) }
            return (events, "full state read at attach (\(source))")
        case .notAvailable(let reason):
            StandardError.write("encmon: note: the shared set before \(since.localClock) is unknown: no state-reading ioctl (\(reason))\n")
            return ([], nil)
        }
    }
}

/// KVM binary statistics of the VM (hypercalls, exits, ...) as counter events, polled on their own
/// thread. nil, with a note, where the process's statistics cannot be reached.
enum KVMCounterSource {
    static func start(pid: Int32, interval: Double) -> PushEventSource? {
        let poller: KVMStatsPoller
        do { poller = try KVMStatsPoller(pid: pid) } catch {
            StandardError.write("encmon: note: no KVM statistics: \(error)\n")
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
