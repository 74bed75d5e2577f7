/// Where frames go: the full-screen terminal, or text snapshots on stdout (`top -b` style).
enum OutputMode: Equatable, Sendable {
    case interactive
    /// `reason` is nil when batch mode was asked for (`-b`), else why the terminal cannot be used.
    case batch(reason: String?)
}

/// Decides the output mode before any curses call: `initscr` exits on an unknown TERM and writes
/// escape codes into pipes, so everything that can be known from the environment is checked first.
/// The terminfo check (`cn_term_usable`) and `newterm` come after this, in `CursesTerminal.open`.
func decideOutputMode(forceBatch: Bool, term: String?, stdinIsTTY: Bool, stdoutIsTTY: Bool) -> OutputMode {
    if forceBatch { return .batch(reason: nil) }
    if !stdoutIsTTY { return .batch(reason: "stdout is not a terminal") }
    if !stdinIsTTY { return .batch(reason: "stdin is not a terminal") }
    guard let term, !term.isEmpty else { return .batch(reason: "TERM is not set") }
    if term == "dumb" || term == "unknown" { return .batch(reason: "TERM=\(term) cannot show the full-screen view") }
    return .interactive
}
