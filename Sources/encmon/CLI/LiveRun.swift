#if canImport(Glibc)
@preconcurrency import Glibc
#endif
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
    func resolveTarget(_ vm: String, custom: WatchedEvent?) throws -> (pid: Int32, label: String, holdsVM: Bool) {
        do {
            let found = try HostVMDiscovery().resolve(vm)
            return (found.pid, found.label, true)
        } catch {
            if let custom, case .notAVM(let pid, let command) = error {
                StandardError.write("encmon: note: process \(pid) (\(command)) holds no KVM VM; watching its \(custom) events only\n")
                return (pid, "pid \(pid) (\(command))", false)
            }
            throw CommandFailure(message: "--vm \(vm): \(error)", exitCode: error.exitCode)
        }
    }

    func run(display: DisplayOptions, model: ModelOptions) throws {
        guard let vm else { return }
        let custom = event.flatMap(WatchedEvent.init(hypercallLike:))
        let target = try resolveTarget(vm, custom: custom)

        let attachment: LiveTracing.Attachment
        do { attachment = try LiveTracing.attach(pid: target.pid, customEvent: custom, bufferKilobytes: bufferSize) } catch {
            throw CommandFailure(message: "\(error)", exitCode: LiveExit.code(for: error))
        }
        let since = WallTime.now()
        let live: LiveTraceSource
        do {
            live = try LiveTraceSource(attachment: attachment, status: SourceStatus(
                kind: .live, name: target.label, position: "tracking since \(since.localClock)"))
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
        let counters = target.holdsVM ? KVMCounterSource.start(pid: target.pid, interval: max(0.25, display.delay)) : nil
        defer { counters?.stop() }

        var source: any EventSource = counters.map { MergedEventSource([live, $0]) } ?? live
        if let record {
            do {
                let writer = try RecordingWriter(path: record, comment: "encmon \(encmonVersion) --vm \(vm)\(event.map { " --event \($0)" } ?? "") since \(since.iso8601)")
                source = RecordingTap(source, writer: writer)
            } catch {
                throw CommandFailure(message: "--record: \(error)", exitCode: 73)
            }
        }

        var monitor = Monitor(configuration: model.configuration)
        var options = display.sessionOptions
        if json {
            options.json = true
            options.batchFrameFormatter = { snapshot, status in
                LiveJSON.line(snapshot, source: status, since: since, exited: live.processExited)
            }
        }
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
