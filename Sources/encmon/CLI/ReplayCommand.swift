import ArgumentParser
import LiveHost
import MonitorCore

extension EncmonCommand {
    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay a recorded trace through the monitor.",
            discussion: """
                FILE may be ftrace 'trace'/'trace_pipe' text, 'trace-cmd report' or 'perf script' output \
                in any of their layouts (kvm:kvm_hypercall, kvm:kvm_vmgexit_msr_protocol_enter, a stand-in \
                probe event with nr= a0= .. a3= fields or the --event one), QEMU trace logs \
                (kvm_hc_map_gpa_range, kvm_convert_memory, kvm_memory_fault), kernel logs of the SEV live-migration \
                patches (page_enc_status_hc), or an encmon recording; '-' reads standard input. \
                The format is detected line by line.

                On a terminal the trace plays on the monitor screen at --speed; with --json or \
                --summary (or when stdout is not a terminal) the whole file is read as fast as \
                possible and a summary is printed.
                """
        )

        @Argument(help: ArgumentHelp("Trace file, or '-' for standard input.", valueName: "FILE"))
        var file: String

        @Flag(help: "Read the whole file and print one JSON object (see the README for its fields).")
        var json = false

        @Flag(help: "Read the whole file and print a readable summary.")
        var summary = false

        @Flag(help: "Keep reading as the file grows, like 'tail -f' (a truncated file is read again from its start); ends on q, -n or a signal. With --json: one JSON object per line every -d seconds.")
        var follow = false

        @Option(parsing: .unconditional, help: ArgumentHelp("Trace seconds per wall-clock second on the screen, or 'max'.", valueName: "FACTOR"))
        var speed: String = "1"

        @Option(help: ArgumentHelp("A stand-in event whose nr, a0..a3 fields read like kvm:kvm_hypercall (a uprobe or kprobe), as SYSTEM:NAME, SYSTEM/NAME or NAME.", valueName: "EVENT"))
        var event: String?

        /// Hidden: parse through the per-event paths only (encmon's parser before the batch fast
        /// path), so the tests can compare the two outputs byte for byte.
        @Flag(name: .customLong("reference-parsing"), help: .hidden)
        var referenceParsing = false

        @OptionGroup(title: "Display") var display: DisplayOptions
        @OptionGroup(title: "Model") var model: ModelOptions

        func validate() throws {
            if json && summary { throw ValidationError("choose one of --json and --summary") }
            if follow && summary { throw ValidationError("--follow never reaches the end of the file: use the screen, -b or --json (one object a frame)") }
            if follow && file == "-" { throw ValidationError("--follow needs a file; standard input is followed anyway until it closes") }
            if (json || summary) && display.csv { throw ValidationError("choose one of --csv, --json and --summary") }
            _ = try SpeedArgument.parse(speed)
            if let event, TraceEventName(event) == nil {
                throw ValidationError("--event '\(event)' is not an event name; give SYSTEM:NAME (e.g. encmon_e2e:hc_1234) or NAME")
            }
        }

        /// "Cannot open input" is exit 66 in every mode (screen, batch, CSV, JSON).
        static let cannotOpenExitCode: Int32 = 66

        private var standInEvent: TraceEventName? { event.flatMap(TraceEventName.init) }

        func run() throws {
            if file != "-", let reason = FileProbe.cannotOpenReason(file) {
                throw CommandFailure(message: reason, exitCode: Self.cannotOpenExitCode)
            }
            do { try replay() } catch let error as TraceFileError {
                // Raised once the screen or batch loop is running (the file vanished, a read failed).
                if case .cannotOpen = error { throw CommandFailure(message: "\(error)", exitCode: Self.cannotOpenExitCode) }
                throw CommandFailure(message: "\(error)", exitCode: 74)
            }
        }

        private func replay() throws {
            var monitor = Monitor(configuration: model.configuration)
            let wholeFile = !follow && (json || summary || (!display.csv && !display.batch && !StandardOutput.isTerminal))
            if file != "-", TraceDatFile.hasMagic(path: file) {
                if follow { throw CommandFailure(message: "--follow reads trace text and recordings; \(file) is a trace.dat", exitCode: 64) }
                try replayTraceDat(into: &monitor, wholeFile: wholeFile)
                return
            }
            if wholeFile {
                let result = try readWholeFile(into: &monitor)
                try requireEvents(result.status, result.counters, result.malformedSamples)
                printSummary(monitor.snapshot(), source: result.status, json: json)
                reportMalformed(result.status, result.counters, result.malformedSamples)
                return
            }
            let source: TraceReplaySource
            do { source = try TraceReplaySource(path: file, standInEvent: standInEvent) } catch {
                throw CommandFailure(message: "\(error)", exitCode: Self.cannotOpenExitCode)
            }
            // A silent FIFO or pipe must not hold the session past SIGINT/SIGTERM/SIGHUP.
            source.reader.interruption = TraceReadInterruption(signal: try CancellationSignal()) {
                SessionSignalHandlers.pending != nil
            }
            source.reader.follow = follow
            source.reader.referenceParsing = referenceParsing
            guard try follow || source.peekNextTime() != nil else {
                try requireEvents(source.status, source.counters, source.malformedSamples)
                return
            }
            var options = display.sessionOptions
            options.speed = try SpeedArgument.parse(speed)
            options.follow = follow
            if follow && json {
                options.json = true
                options.batchFrameFormatter = { MonitorSummary.json($0, source: $1).serialized() }
            }
            let outcome = try runMonitorSession(source: source, monitor: &monitor, options: options)
            reportMalformed(source.status, source.counters, source.malformedSamples)
            let truncations = source.counters.truncations
            if truncations > 0 {
                StandardError.write("encmon: \(source.status.name): truncated \(truncations) time\(truncations == 1 ? "" : "s") while following; read again from its start\n")
            }
            try outcome.exitIfSignalled()
        }

        /// trace-cmd's binary trace.dat, recognised by its magic: read through libtracecmd with
        /// the live path's decoding, in a child process (`IsolatedTraceDat`).
        private func replayTraceDat(into monitor: inout Monitor, wholeFile: Bool) throws {
            do {
                let source = try IsolatedTraceDat.open(path: file)
                // The first event, or the end: a file without any event the replay knows is refused.
                if try source.peekNextTime() == nil, let summary = source.summary {
                    throw CommandFailure(
                        message: "\(file): trace.dat with \(summary.records) records in buffers \(summary.buffers.map { $0.isEmpty ? "(top level)" : $0 }.joined(separator: ", ")), "
                            + "none of kvm:kvm_hypercall, kvm:kvm_vmgexit_msr_protocol_enter or a probe with fields nr, a0, a1, a2",
                        exitCode: 65)
                }
                if wholeFile {
                    var events: [MonitorEvent] = []
                    var more = true
                    while more {
                        events.removeAll(keepingCapacity: true)
                        more = try source.poll(until: nil, limit: 1 << 16, into: &events)
                        monitor.apply(events)
                    }
                    printSummary(monitor.snapshot(), source: source.status, json: json)
                    return
                }
                var options = display.sessionOptions
                options.speed = try SpeedArgument.parse(speed)
                let outcome = try runMonitorSession(source: source, monitor: &monitor, options: options)
                try outcome.exitIfSignalled()
            } catch let error as IsolatedTraceDat.Failure {
                throw CommandFailure(message: "\(error)", exitCode: error.exitCode)
            }
        }

        /// Batch fast path: parsing on a second core, the model on this one, with a progress line
        /// on stderr when it is a terminal.
        private func readWholeFile(into monitor: inout Monitor) throws -> TraceReplayResult {
            let progress = TraceReplayProgress()
            let showProgress = StandardError.isTerminal
            var lastProgress = SourceClock.monotonicNow()
            var shown = false
            let result: TraceReplayResult
            do {
                result = try PipelinedTraceReplay.replay(path: file, into: &monitor, progress: progress, standInEvent: standInEvent,
                                                         referenceParsing: referenceParsing) { monitor in
                    guard showProgress else { return }
                    let now = SourceClock.monotonicNow()
                    if now - lastProgress >= 0.5 {
                        lastProgress = now
                        shown = true
                        let s = progress.status
                        StandardError.write("\rencmon: reading \(s.name): \(s.position), \(monitor.totals.events) events\u{1b}[K")
                    }
                }
            } catch let error as TraceFileError {
                if shown { StandardError.write("\r\u{1b}[K") }
                if case .cannotOpen = error { throw CommandFailure(message: "\(error)", exitCode: Self.cannotOpenExitCode) }
                throw CommandFailure(message: "\(error)", exitCode: 74)
            }
            if shown { StandardError.write("\r\u{1b}[K") }
            return result
        }

        private func requireEvents(_ status: SourceStatus, _ c: TraceReadCounters, _ samples: [MalformedLine]) throws {
            guard c.events == 0 else { return }
            reportMalformed(status, c, samples)
            throw CommandFailure(
                message: "\(file): no line of any supported format (\(c.lines) lines: \(c.skipped) skipped, \(c.malformed) malformed); "
                    + "expected kvm_hypercall / kvm_vmgexit_msr_protocol_enter trace lines, QEMU kvm_hc_map_gpa_range lines, "
                    + "page_enc_status_hc kernel log lines or an encmon recording",
                exitCode: 65)
        }
    }
}

/// The batch summary on stdout: JSON (the region list streamed) or text.
func printSummary(_ snapshot: MonitorSnapshot, source: SourceStatus, json: Bool) {
    if json {
        MonitorSummary.writePrettyJSON(snapshot, source: source) { StandardOutput.write($0) }
        StandardOutput.write("\n")
    } else {
        StandardOutput.write(MonitorSummary.text(snapshot, source: source) + "\n")
    }
}

/// Prints the first malformed lines and the total, naming file and line, and a cut-off last record.
func reportMalformed(_ status: SourceStatus, _ c: TraceReadCounters, _ samples: [MalformedLine]) {
    let name = status.name
    if c.partialRecordBytes > 0 {
        StandardError.write("encmon: \(name): dropped a cut-off last record (\(c.partialRecordBytes) bytes without a newline: "
                            + "the recording process died or the disk filled)\n")
    }
    guard c.malformed > 0 else { return }
    for m in samples {
        StandardError.write("encmon: \(name):\(m.lineNumber): malformed line (\(m.reason)): \(m.text)\n")
    }
    if c.malformed > UInt64(samples.count) {
        StandardError.write("encmon: \(name): \(c.malformed) malformed lines in all (first \(samples.count) shown)\n")
    } else {
        StandardError.write("encmon: \(name): \(c.malformed) malformed line\(c.malformed == 1 ? "" : "s") skipped\n")
    }
}

enum SpeedArgument {
    /// `1`, `0.5`, `10x`, `max`.
    static func parse(_ text: String) throws -> Double {
        let lower = text.lowercased()
        if lower == "max" { return .infinity }
        let t = lower.hasSuffix("x") ? String(lower.dropLast()) : lower
        guard let v = Double(t), v.isFinite, v >= 1.0 / 64, v <= 1_000_000 else {
            if let v = Double(t), v <= 0 {
                throw ValidationError("--speed must be positive (a factor between 1/64 and 1000000, or 'max'), not '\(text)'")
            }
            throw ValidationError("--speed must be a factor between 1/64 and 1000000, or 'max', not '\(text)'")
        }
        return v
    }
}

extension DisplayOptions {
    var sessionOptions: SessionOptions {
        var o = SessionOptions(delay: delay, iterations: iterations, batch: batch, asciiOnly: ascii, noColor: noColor, mouse: !noMouse)
        o.csv = csv
        return o
    }
}

extension SessionOutcome {
    /// A session ended by SIGINT, SIGTERM or SIGHUP exits like a shell reports it: 128 + signal.
    func exitIfSignalled() throws {
        if case .signal(let n) = self { throw ExitCode(128 + n) }
    }
}
