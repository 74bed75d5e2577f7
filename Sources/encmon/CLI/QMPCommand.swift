import ArgumentParser
import MonitorCore

/// `--qmp PATH`: migration progress and SEV state from QEMU's monitor socket. Alone it is a
/// QMP-only view; with `--vm` its source is merged with the live one (`qmpSource()`).
struct QMPOptions: ParsableArguments {
    @Option(name: .customLong("qmp"), help: ArgumentHelp("Follow migration progress and SEV state on this QMP Unix socket (QEMU -qmp unix:PATH,server=on,wait=off).", valueName: "PATH"))
    var socketPath: String?

    @Option(name: .customLong("qmp-interval"), help: ArgumentHelp("Seconds between query-migrate polls.", valueName: "SECONDS"))
    var pollInterval: Double = 0.5

    func validate() throws {
        guard pollInterval.isFinite, pollInterval >= 0.05, pollInterval <= 60 else {
            throw ValidationError("--qmp-interval must be between 0.05 and 60 seconds, not \(pollInterval)")
        }
        if let p = socketPath, p.isEmpty { throw ValidationError("--qmp needs the path of a QMP Unix socket") }
    }

    /// The started QMP source, or nil without `--qmp`.
    func qmpSource() throws -> PushEventSource? {
        guard let socketPath else { return nil }
        var watcher = QMPMigrationWatcher(socketPath: socketPath)
        watcher.pollInterval = pollInterval
        // A socket that is wrong from the start is a usage error; a QEMU that goes away later
        // is shown on screen and retried.
        do {
            let probe = try QMPClient(path: socketPath, timeout: watcher.commandTimeout, cancellation: CancellationSignal())
            probe.close()
        } catch {
            throw CommandFailure(message: "--qmp \(socketPath): \(error)", exitCode: QMPExit.unavailable)
        }
        do {
            let source = try watcher.makeSource()
            try source.start()
            return source
        } catch {
            throw CommandFailure(message: "--qmp \(socketPath): \(error)", exitCode: QMPExit.unavailable)
        }
    }
}

/// Exit statuses of `--qmp` (README "Live").
enum QMPExit {
    /// The socket cannot be reached, does not speak QMP, or the reader cannot start.
    static let unavailable: Int32 = 69
}

/// Output of the QMP-only view: JSON Lines and a recording (`--json`, `--record` of LiveOptions).
struct QMPOutputOptions {
    var json = false
    var record: String?
}

extension EncmonCommand {
    /// What `encmon` does without a subcommand name: `--qmp PATH`, `--vm ID`. A default
    /// subcommand rather than options on the root: ArgumentParser also parses the root's options
    /// for every subcommand, so a root `--json` or `-n` would take them away from `demo`/`replay`.
    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "watch",
            abstract: "Watch a running VM (--vm) or QEMU's migration progress (--qmp); the default command.")

        @OptionGroup(title: "Live") var live: LiveOptions
        @OptionGroup(title: "QMP") var qmp: QMPOptions
        @OptionGroup(title: "Daemon") var daemon: DaemonViewerOptions
        @OptionGroup(title: "Display") var display: DisplayOptions
        @OptionGroup(title: "Model") var model: ModelOptions

        /// Words after the options. Caught here so that `encmon --vm 3 demo` says why it is refused
        /// rather than only "unexpected argument".
        @Argument(help: .hidden) var stray: [String] = []

        func validate() throws {
            if let word = stray.first {
                let target = live.vm.map { "--vm \($0)" } ?? qmp.socketPath.map { "--qmp \($0)" }
                if let target, ["replay", "demo", "list"].contains(word) {
                    throw ValidationError("\(target) selects live monitoring and cannot be combined with '\(word)'; "
                                          + "run 'encmon \(target)' or 'encmon \(word) ...' alone")
                }
                throw ValidationError("unexpected argument '\(word)'")
            }
            if daemon.socket != nil, qmp.socketPath != nil || live.event != nil || live.record != nil || live.bufferSize != nil {
                throw ValidationError("--connect shows the daemon's view of a VM; --qmp, --event, --record and --buffer-size belong to direct tracing")
            }
            try live.validateForLive(withQMP: qmp.socketPath != nil || daemon.socket != nil)
        }

        func run() throws {
            if let socket = daemon.socket {
                return try runConnectedViewer(socket: socket, vm: live.vm, display: display, json: live.json)
            }
            // Without --connect, `--vm ID` shows the daemon's view when the daemon tracks that VM.
            if let vm = live.vm, live.event == nil, live.record == nil, live.bufferSize == nil, qmp.socketPath == nil,
               let tracked = daemonSourceIfTracked(vm: vm) {
                return try runConnectedViewer(tracked, display: display, json: live.json)
            }
            if live.vm != nil {
                removeAbandonedServeInstances(tag: "encmon")
                return try live.run(display: display, model: model, qmp: qmp)
            }
            guard qmp.socketPath != nil else { throw CleanExit.helpRequest(EncmonCommand.self) }
            try EncmonCommand.runQMPOnly(qmp, output: QMPOutputOptions(json: live.json, record: live.record),
                                         display: display, model: model)
        }
    }

    /// `encmon --qmp PATH` without `--vm`.
    static func runQMPOnly(_ qmp: QMPOptions, output: QMPOutputOptions, display: DisplayOptions, model: ModelOptions) throws {
        guard let qmpSource = try qmp.qmpSource() else { return }
        defer { qmpSource.stop() }
        var source: any EventSource = qmpSource
        if let record = output.record {
            do {
                let writer = try RecordingWriter(path: record, comment: "encmon \(encmonVersion) --qmp \(qmp.socketPath ?? "")")
                source = RecordingTap(source, writer: writer)
            } catch {
                throw CommandFailure(message: "--record: \(error)", exitCode: 73)
            }
        }
        var monitor = Monitor(configuration: model.configuration)
        var options = display.sessionOptions
        if output.json {
            options.json = true
            options.batchFrameFormatter = { snapshot, status in
                MonitorSummary.json(snapshot, source: status, includeRegions: false).serialized()
            }
        }
        let outcome = try runMonitorSession(source: source, monitor: &monitor, options: options)
        try outcome.exitIfSignalled()
    }
}
