import ArgumentParser
import MonitorCore

extension EncmonCommand {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a simulated confidential guest and its live migration (no VM needed).",
            discussion: """
                Scenarios:
                \(SimulatorScenario.allCases.map { "  \($0.rawValue.padding(9))\($0.summary)" }.joined(separator: "\n"))

                The simulation is deterministic: the same --seed and options give the same events. \
                --record FILE writes them as an encmon recording; 'encmon replay FILE' reproduces \
                the run.
                """
        )

        @Option(help: ArgumentHelp("What the guest does: \(SimulatorScenario.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "NAME"))
        var scenario: String = SimulatorScenario.tour.rawValue

        @Option(help: "Seed of the simulation.")
        var seed: UInt64 = 1

        @Option(help: ArgumentHelp("Guest memory, e.g. 4G, 512M, 16GiB (default 4G; 8G for hostile).", valueName: "SIZE"))
        var mem: String?

        @Option(help: ArgumentHelp("Simulated seconds per wall-clock second; 'max' for as fast as possible.", valueName: "FACTOR"))
        var speed: String = "1"

        @Option(help: ArgumentHelp("Migration link bandwidth per second, e.g. 512M, 1G (default \(ByteFormat.human(SimulatorConfiguration().linkBandwidthBytesPerSecond))).", valueName: "SIZE"))
        var bandwidth: String?

        @Option(name: .customLong("dirty-rate"), help: ArgumentHelp("Pages the guest dirties per second during migration (default \(Int(SimulatorConfiguration().dirtyPagesPerSecond))).", valueName: "PAGES"))
        var dirtyRate: Double?

        @Option(name: .customLong("churn-rate"), help: ArgumentHelp("DMA conversions per second in steady state (default \(Int(SimulatorConfiguration().churnConversionsPerSecond))).", valueName: "N"))
        var churnRate: Double?

        @Option(help: ArgumentHelp("Append every event to FILE in encmon's recording format.", valueName: "FILE"))
        var record: String?

        @Flag(help: "Run to the end as fast as possible and print one JSON summary (with per-pass migration figures).")
        var json = false

        @Flag(help: "Run to the end as fast as possible and print a readable summary.")
        var summary = false

        @OptionGroup(title: "Display") var display: DisplayOptions
        @OptionGroup(title: "Model") var model: ModelOptions

        func validate() throws {
            if json && summary { throw ValidationError("choose one of --json and --summary") }
            _ = try simulatorConfiguration()
            _ = try SpeedArgument.parse(speed)
        }

        func simulatorConfiguration() throws -> SimulatorConfiguration {
            guard let s = SimulatorScenario(rawValue: scenario.lowercased()) else {
                throw ValidationError("--scenario must be one of \(SimulatorScenario.allCases.map(\.rawValue).joined(separator: ", ")), not '\(scenario)'")
            }
            var c = SimulatorConfiguration(scenario: s, seed: seed)
            if let mem {
                guard let bytes = SizeArgument.parse(mem) else {
                    throw ValidationError("--mem must be a size such as 4G, 512M or 17179869184, not '\(mem)'")
                }
                c.memBytes = bytes
            }
            if let bandwidth {
                guard let bytes = SizeArgument.parse(bandwidth), bytes > 0 else {
                    throw ValidationError("--bandwidth must be a size per second such as 512M or 1G, not '\(bandwidth)'")
                }
                c.linkBandwidthBytesPerSecond = Double(bytes)
            }
            if let dirtyRate { c.dirtyPagesPerSecond = dirtyRate }
            if let churnRate { c.churnConversionsPerSecond = churnRate }
            do { try c.validate() } catch { throw ValidationError(error.description) }
            return c
        }

        func run() throws {
            let configuration = try simulatorConfiguration()
            var source: any EventSource = try SimulatorSource(configuration: configuration)
            var tap: RecordingTap?
            if let record {
                do {
                    let writer = try RecordingWriter(path: record, comment: "encmon \(encmonVersion) demo --scenario \(configuration.scenario.rawValue) --seed \(configuration.seed) --mem \(configuration.memBytes)")
                    let recording = RecordingTap(source, writer: writer)
                    tap = recording
                    source = recording
                } catch {
                    throw CommandFailure(message: "--record: \(error)", exitCode: 73)
                }
            }
            var monitor = Monitor(configuration: model.configuration)
            if json || summary {
                var events: [MonitorEvent] = []
                events.reserveCapacity(65_536)
                while true {
                    events.removeAll(keepingCapacity: true)
                    let more = try source.poll(until: nil, limit: 65_536, into: &events)
                    monitor.apply(events)
                    if !more { break }
                }
                let snapshot = monitor.snapshot()
                printSummary(snapshot, source: source.status, json: json)
                try tap?.flush()
                try reportStoppedRecording(tap)
                return
            }
            var options = display.sessionOptions
            options.speed = try SpeedArgument.parse(speed)
            let outcome = try runMonitorSession(source: source, monitor: &monitor, options: options)
            // The recording's buffer is written before a signal's exit skips deinit.
            try tap?.flush()
            try outcome.exitIfSignalled()
            try reportStoppedRecording(tap)
        }

        /// A recording that stopped (full disk, I/O error) is reported once, after the run went
        /// on to its end; exit status 73 tells scripts the recording is incomplete.
        private func reportStoppedRecording(_ tap: RecordingTap?) throws {
            guard let tap, let error = tap.stopped else { return }
            throw CommandFailure(message: "--record: recording stopped after \(tap.recordsWritten) records: \(error); "
                                 + "the file holds every whole record written before", exitCode: 73)
        }
    }
}

enum SizeArgument {
    /// `4G`, `4GiB`, `4gb`, `512M`, `64k`, `4096`: binary units.
    static func parse(_ text: String) -> UInt64? {
        var t = text.lowercased()
        for suffix in ["ib", "b"] where t.hasSuffix(suffix) && t.count > suffix.count {
            t.removeLast(suffix.count)
            break
        }
        var shift: UInt64 = 0
        switch t.last {
        case "k": shift = 10
        case "m": shift = 20
        case "g": shift = 30
        case "t": shift = 40
        default: break
        }
        if shift > 0 { t.removeLast() }
        if let v = UInt64(t) {
            let (r, o) = v.multipliedReportingOverflow(by: 1 << shift)
            return o ? nil : r
        }
        if let d = Double(t), d.isFinite, d >= 0, d * Double(UInt64(1) << shift) < 1.8e19 {
            return UInt64(d * Double(UInt64(1) << shift))
        }
        return nil
    }
}
