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

        // `.unconditional`: a value that starts with '-' (`--seed -1`) reaches validation, which
        // names the real problem instead of "Missing value".
        @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the simulation, 0 to 2^64-1.", valueName: "N"))
        var seed: String = "1"

        @Option(parsing: .unconditional, help: ArgumentHelp("Guest memory, \(DemoLimits.memoryRange) (default 4G; 8G for hostile).", valueName: "SIZE"))
        var mem: String?

        @Option(parsing: .unconditional, help: ArgumentHelp("Simulated seconds per wall-clock second, or 'max'.", valueName: "FACTOR"))
        var speed: String = "1"

        @Option(parsing: .unconditional, help: ArgumentHelp("Migration link bandwidth per second (default \(SizeArgument.format(SimulatorConfiguration(scenario: .migrate).linkBandwidthBytesPerSecond)); \(SizeArgument.format(SimulatorConfiguration(scenario: .tour).linkBandwidthBytesPerSecond)) in the tour).", valueName: "SIZE"))
        var bandwidth: String?

        @Option(name: .customLong("dirty-rate"), parsing: .unconditional, help: ArgumentHelp("Pages the guest dirties per second while migrating, 0 to \(DemoLimits.maxDirtyRateText) (default \(Int(SimulatorConfiguration().dirtyPagesPerSecond))).", valueName: "PAGES"))
        var dirtyRate: String?

        @Option(name: .customLong("churn-rate"), parsing: .unconditional, help: ArgumentHelp("DMA conversions per second, 0 to \(DemoLimits.maxChurnRateText) (default \(Int(SimulatorConfiguration().churnConversionsPerSecond))).", valueName: "N"))
        var churnRate: String?

        @Option(help: ArgumentHelp("Write every event to FILE as an encmon recording (a new file, or --force).", valueName: "FILE"))
        var record: String?

        @Flag(help: "With --record: replace FILE if it exists.")
        var force = false

        @Flag(help: "Run to the end as fast as possible and print one JSON summary (with per-pass migration figures).")
        var json = false

        @Flag(help: "Run to the end as fast as possible and print a readable summary.")
        var summary = false

        @OptionGroup(title: "Display") var display: DisplayOptions
        @OptionGroup(title: "Model") var model: ModelOptions

        func validate() throws {
            if json && summary { throw ValidationError("choose one of --json and --summary") }
            if (json || summary) && display.csv { throw ValidationError("choose one of --csv, --json and --summary") }
            if force && record == nil { throw ValidationError("--force only applies to --record FILE") }
            _ = try simulatorConfiguration()
            _ = try SpeedArgument.parse(speed)
        }

        func simulatorConfiguration() throws -> SimulatorConfiguration {
            guard let s = SimulatorScenario(rawValue: scenario.lowercased()) else {
                throw ValidationError("--scenario must be one of \(SimulatorScenario.allCases.map(\.rawValue).joined(separator: ", ")), not '\(scenario)'")
            }
            guard let seedValue = UInt64(seed) else {
                throw ValidationError("--seed must be a whole number from 0 to 18446744073709551615, not '\(seed)'")
            }
            var c = SimulatorConfiguration(scenario: s, seed: seedValue)
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
            if let dirtyRate {
                c.dirtyPagesPerSecond = try DemoLimits.rate(dirtyRate, option: "--dirty-rate", max: DemoLimits.maxDirtyRate, unit: "pages per second")
            }
            if let churnRate {
                c.churnConversionsPerSecond = try DemoLimits.rate(churnRate, option: "--churn-rate", max: DemoLimits.maxChurnRate, unit: "conversions per second")
            }
            // The configuration's own limits, reworded with the option that sets each value.
            if c.memBytes > DemoLimits.maxMemBytes || c.memBytes < SimulatorConfiguration.minimumMemBytes {
                throw ValidationError("--mem must be a guest memory size from \(DemoLimits.memoryRange), not '\(mem ?? "")'")
            }
            let minBandwidth = DemoLimits.minimumBandwidth(memBytes: c.memBytes, encryptedFraction: c.encryptedPathFraction)
            if c.linkBandwidthBytesPerSecond < minBandwidth {
                throw ValidationError("--bandwidth \(bandwidth ?? "") is too low: pass 1 alone would send \(ByteFormat.human(c.memBytes)) for more than ten minutes; "
                                      + "use at least \(SizeArgument.format(minBandwidth)) for \(ByteFormat.human(c.memBytes)) of guest memory")
            }
            if c.linkBandwidthBytesPerSecond > DemoLimits.maxBandwidth {
                throw ValidationError("--bandwidth must be at most 1T (per second), not '\(bandwidth ?? "")'")
            }
            do { try c.validate() } catch { throw ValidationError(error.description) }
            return c
        }

        func run() throws {
            let configuration = try simulatorConfiguration()
            var source: any EventSource = try SimulatorSource(configuration: configuration)
            var tap: RecordingTap?
            if let record {
                if !force, FileProbe.existsNonEmpty(record) {
                    throw CommandFailure(message: "--record: '\(record)' already exists; add --force to replace it, or choose a new file name", exitCode: 73)
                }
                do {
                    let writer = try RecordingWriter(path: record, truncate: force, comment: "encmon \(encmonVersion) demo --scenario \(configuration.scenario.rawValue) --seed \(configuration.seed) --mem \(configuration.memBytes)")
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

    /// A byte count as the shortest size `parse` accepts that is at least `bytes` ("2M", "1G").
    static func format(_ bytes: Double) -> String {
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
            let u = Double(UInt64(1) << UInt64(shift))
            if bytes >= u { return "\(Int((bytes / u).rounded(.up)))\(unit)" }
        }
        return "\(Int(bytes.rounded(.up)))"
    }
}

/// Ranges of the demo's options: wide enough for any real guest, narrow enough that the
/// simulator's work per simulated second stays bounded (the screen answers keys within a frame)
/// and a migration ends (or fails) within hours of simulated time.
enum DemoLimits {
    static let maxMemBytes: UInt64 = 64 << 30
    static var memoryRange: String { "256M to 64G" }
    /// 1 Mi pages/s is 4 GiB/s of page writes: a guest dirtying memory as fast as it can.
    static let maxDirtyRate = 1_048_576.0
    static let maxDirtyRateText = "1048576"
    /// Well above a busy NIC's DMA mappings per second; each is an event.
    static let maxChurnRate = 20_000.0
    static let maxChurnRateText = "20000"
    static let maxBandwidth = Double(UInt64(1) << 40)
    /// Pass 1 sends every page, private ones through the encrypted path: it must fit in ten
    /// minutes, so that a migration that cannot converge fails within the hour.
    static let maxFirstPassSeconds = 600.0
    static func minimumBandwidth(memBytes: UInt64, encryptedFraction: Double) -> Double {
        max(Double(1 << 20), Double(memBytes) / (maxFirstPassSeconds * encryptedFraction))
    }

    static func rate(_ text: String, option: String, max: Double, unit: String) throws -> Double {
        guard let v = Double(text), v.isFinite, v >= 0, v <= max else {
            throw ValidationError("\(option) must be a number of \(unit) from 0 to \(Int(max)), not '\(text)'")
        }
        return v
    }
}
