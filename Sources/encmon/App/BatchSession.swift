import SystemLibc
import MonitorCore
import MonitorView

/// `top -b` style output: text frames of the same panels on stdout, separated by a blank line.
///
/// - Replays never sleep. Without `-n` the whole trace is applied as fast as possible and only
///   the final frame is printed; with `-n N` a frame is printed after every `delay` seconds of
///   trace time, N frames at most.
/// - Demo and live sources print a frame every `delay` wall seconds (the simulator's clock runs
///   at `speed`), until `-n` frames, the end of a finite source, or a signal.
struct BatchSession {
    let source: any EventSource
    let options: SessionOptions
    private var pump = EventPump()
    private let charset: Charset
    private let width: Int

    init(source: any EventSource, options: SessionOptions) {
        self.source = source
        self.options = options
        width = options.batchWidth ?? BatchWidth.decide(columns: SessionIO.environment("COLUMNS"), terminalWidth: BatchWidth.terminalWidth())
        setlocale(LC_ALL, "")
        charset = CursesTerminal.currentCodesetIsUTF8() && !options.asciiOnly ? .unicode : .ascii
    }

    private var delay: Double { options.delay > 0 ? options.delay : 1 }

    mutating func run(_ monitor: inout Monitor) throws -> SessionOutcome {
        var signals = SessionSignalHandlers()
        defer { signals.restore() }
        let kind = source.status.kind
        do {
            if kind == .replay && !options.follow {
                guard let frames = options.iterations else { return try runWholeReplay(&monitor) }
                return try runReplayFrames(&monitor, frames: frames)
            }
            return try runPaced(&monitor, clocked: kind.isClocked && !options.follow)
        } catch let error as TraceFileError {
            // A read of a silent stream stopped for the signal: the session ends as for any signal.
            if case .interrupted = error, let s = SessionSignalHandlers.pending { return .signal(s) }
            throw error
        }
    }

    /// Applies everything, then prints the final frame.
    private mutating func runWholeReplay(_ monitor: inout Monitor) throws -> SessionOutcome {
        while !pump.exhausted {
            _ = try pump.pump(source, into: &monitor, until: nil, maxEvents: 1 << 20, maxSeconds: 0.2)
            if let s = SessionSignalHandlers.pending { return .signal(s) }
        }
        printFrame(monitor, first: true)
        return .finished
    }

    /// A frame after every `delay` seconds of trace time, without sleeping.
    private mutating func runReplayFrames(_ monitor: inout Monitor, frames: Int) throws -> SessionOutcome {
        guard var clock = try source.peekNextTime() else {
            _ = try pump.pump(source, into: &monitor, until: nil)
            printFrame(monitor, first: true)
            return .finished
        }
        for frame in 0..<max(1, frames) {
            clock += delay
            while try !pump.pump(source, into: &monitor, until: clock, maxEvents: 1 << 20, maxSeconds: 0.2) {
                if let s = SessionSignalHandlers.pending { return .signal(s) }
            }
            if let s = SessionSignalHandlers.pending { return .signal(s) }
            if !pump.exhausted { monitor.advance(to: clock) }
            printFrame(monitor, first: frame == 0)
            if pump.exhausted { break }
        }
        return .finished
    }

    /// A frame every `delay` wall seconds (live, daemon, demo).
    private mutating func runPaced(_ monitor: inout Monitor, clocked: Bool) throws -> SessionOutcome {
        let speed = (options.speed ?? 1).isFinite ? max(ReplaySpeed.minimum, options.speed ?? 1) : ReplaySpeed.maximum
        var clock = clocked ? try source.peekNextTime() : nil
        var frames = 0
        while true {
            if let s = WallClock.sleep(delay) { return .signal(s) }
            if clocked {
                if clock == nil { clock = try source.peekNextTime() }
                clock = clock.map { $0 + delay * speed }
            }
            while try !pump.pump(source, into: &monitor, until: clock, maxEvents: 1 << 20, maxSeconds: 0.2) {
                if let s = SessionSignalHandlers.pending { return .signal(s) }
            }
            if !pump.exhausted {
                if let c = clock { monitor.advance(to: c) }
            }
            printFrame(monitor, first: frames == 0)
            frames += 1
            if let n = options.iterations, frames >= n { return .finished }
            if pump.exhausted { return .finished }
        }
    }

    private func printFrame(_ monitor: Monitor, first: Bool) {
        let snapshot = monitor.snapshot()
        var status = source.status
        if pump.exhausted { status.finished = true }
        let text: String
        if let format = options.batchFrameFormatter {
            text = format(snapshot, status)
        } else {
            // Every panel at its natural height: batch output has no screen to fit.
            text = BatchReport.render(snapshot: snapshot, source: status, width: width, charset: charset)
        }
        SessionIO.writeFrame((first || options.batchFrameFormatter != nil ? "" : "\n") + text + "\n")
    }
}
