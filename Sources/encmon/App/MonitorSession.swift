import SystemLibc
import MonitorCore
import MonitorView

/// The CLI's entry point: shows `source` through `monitor` on the full-screen terminal, or as
/// batch text when `-b` is given or the terminal cannot be used (then says why on stderr).
///
/// The terminal is always restored before this returns or throws. Errors thrown by the source
/// are rethrown unchanged for the CLI to print.
func runMonitorSession(source: any EventSource, monitor: inout Monitor, options: SessionOptions) throws -> SessionOutcome {
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
    var session = BatchSession(source: source, options: options)
    return try session.run(&monitor)
}
