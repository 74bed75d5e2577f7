#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Terminal faults on the built binary, driven in a private tmux server by
/// `scripts/terminal-faults-e2e.sh`: SIGTERM, SIGINT and SIGHUP to `encmon demo` leave a pane with
/// the normal screen, a visible cursor and a tty that echoes; a SIGWINCH storm neither kills nor
/// garbles the screen. Spawned through `run` (empty signal mask, notes G7), bounded by `timeout`.
@Suite struct TerminalFaultTests {
    static let script = Built.repositoryRoot + "/scripts/terminal-faults-e2e.sh"

    @Test func signalsAndResizeStormsLeaveTheTerminalUsable() throws {
        #expect(access(Built.encmon, X_OK) == 0, "no encmon binary at \(Built.encmon)")
        let tmux = try run("/bin/sh", ["-c", "command -v tmux"])
        try #require(tmux.status == 0, "tmux is required for the terminal fault test (apt-get install -y tmux)")
        let r = try run("/usr/bin/timeout", ["-k", "10", "240", "/bin/bash", Self.script, Built.encmon])
        let summary = r.stdout.split(separator: "\n").last.map(String.init) ?? "(no output)"
        #expect(r.status == 0, "terminal-faults-e2e.sh: \(summary) (exit \(r.status))\n\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains(" passed, 0 failed"), "\(r.stdout)")
    }
}
