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

/// Output of the QMP-only view: JSON Lines and a recording.
struct QMPOutputOptions: ParsableArguments {
    @Flag(name: .customLong("json"), help: "With --qmp: print one JSON object per refresh, one a line (implies --batch).")
    var json = false

    @Option(name: .customLong("record"), help: ArgumentHelp("With --qmp: append every event to FILE in encmon's recording format.", valueName: "FILE"))
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

        @ParentCommand var root: EncmonCommand
        @OptionGroup(title: "QMP") var qmp: QMPOptions
        @OptionGroup(title: "QMP output") var qmpOutput: QMPOutputOptions
        @OptionGroup(title: "Display") var display: DisplayOptions
        @OptionGroup(title: "Model") var model: ModelOptions

        func run() throws {
            if root.vm != nil || qmp.socketPath == nil { return try root.run() }
            try root.runQMPOnly(qmp, output: qmpOutput, display: display, model: model)
        }
    }

    /// `encmon --qmp PATH` without `--vm`.
    func runQMPOnly(_ qmp: QMPOptions, output: QMPOutputOptions, display: DisplayOptions, model: ModelOptions) throws {
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
