import SystemLibc
import MonitorCore
import MonitorView

/// The CLI's entry point: shows `source` through `monitor` on the full-screen terminal, or as
/// batch text when `-b` is given or the terminal cannot be used (then says why on stderr).
///
/// The terminal is always restored before this returns or throws. Errors thrown by the source
/// are rethrown unchanged for the CLI to print.
func runMonitorSession(source: any EventSource, monitor: inout Monitor, options: SessionOptions) throws -> SessionOutcome {
    if options.csv {
        options.enteringBatchMode?()
        return try runCSVLog(source: source, monitor: &monitor, options: options)
    }
    let mode = decideOutputMode(forceBatch: options.batch || options.json,
                                term: SessionIO.environment("TERM"),
                                stdinIsTTY: isatty(STDIN_FILENO) == 1,
                                stdoutIsTTY: isatty(STDOUT_FILENO) == 1)
    let noColor = options.noColor || !(SessionIO.environment("NO_COLOR") ?? "").isEmpty
    if mode == .interactive {
        let terminal: CursesTerminal
        do {
            terminal = try CursesTerminal(settings: TerminalSettings(mouse: options.mouse, color: !noColor,
                                                                     asciiOnly: options.asciiOnly))
        } catch {
            return try runBatch(source: source, monitor: &monitor, options: options, reason: error.reason)
        }
        defer { terminal.shutdown() }
        var session = InteractiveSession(source: source, terminal: terminal, options: options)
        return try session.run(&monitor)
    }
    guard case .batch(let reason) = mode else { return .finished }
    return try runBatch(source: source, monitor: &monitor, options: options, reason: reason)
}

private func runBatch(source: any EventSource, monitor: inout Monitor, options: SessionOptions,
                      reason: String?) throws -> SessionOutcome {
    if let reason { SessionIO.writeError("encmon: \(reason); using batch mode\n") }
    options.enteringBatchMode?()
    var session = BatchSession(source: source, options: options)
    return try session.run(&monitor)
}

/// `--csv`: batch frames written as `CSVLog` rows, the header before the first. A replay logs a
/// row per `delay` seconds of trace time to its end (or `-n` rows); other sources per `delay`
/// wall seconds.
private func runCSVLog(source: any EventSource, monitor: inout Monitor, options: SessionOptions) throws -> SessionOutcome {
    var o = options
    o.batch = true
    if source.status.kind == .replay, o.iterations == nil { o.iterations = Int.max }
    let header = HeaderOnce(CSVLog.header)
    o.batchFrameFormatter = { snapshot, status in header.take() + CSVLog.row(snapshot, source: status) }
    var session = BatchSession(source: source, options: o)
    return try session.run(&monitor)
}

/// Hands out its text once, then "" (the CSV header before the first row only).
private final class HeaderOnce {
    private var text: String?
    init(_ header: String) { text = header + "\n" }
    func take() -> String { defer { text = nil }; return text ?? "" }
}

/// Width of batch text: `COLUMNS` when set, else the terminal's width, else 80 (a pipe or file).
enum BatchWidth {
    static let pipeDefault = 80
    static let range = 40...1000

    static func decide(columns: String?, terminalWidth: Int?) -> Int {
        if let c = columns.flatMap({ Int($0.filter { $0 != " " }) }), c > 0 { return min(range.upperBound, max(range.lowerBound, c)) }
        if let w = terminalWidth, w > 0 { return min(range.upperBound, max(range.lowerBound, w)) }
        return pipeDefault
    }

    /// The width of the terminal on stdout, or nil when stdout is not one.
    static func terminalWidth() -> Int? {
        var ws = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 else { return nil }
        return Int(ws.ws_col)
    }
}
