import SystemLibc
import Testing

/// The full-screen view of the built binary, driven in a private tmux server by
/// `scripts/tui-e2e.sh` (keys, resize, help, q, SIGTERM/SIGINT/SIGHUP, batch fallbacks).
///
/// The script is spawned through `run` (CommandLineTests.swift), which clears the signal mask
/// and resets dispositions: a tmux server inheriting the Swift Testing runner's blocked signals
/// ignores kill-server and never delivers SIGWINCH, and `swift test` hangs (notes G7).
/// `timeout` bounds the whole run in case tmux itself wedges.
@Suite struct TerminalViewTests {
    static let fixture = Built.repositoryRoot + "/Tests/EndToEndTests/Fixtures/small-trace.txt"
    static let script = Built.repositoryRoot + "/scripts/tui-e2e.sh"

    @Test func fullScreenViewInTmux() throws {
        #expect(access(Built.encmon, X_OK) == 0, "no encmon binary at \(Built.encmon)")
        let tmux = try run("/bin/sh", ["-c", "command -v tmux"])
        try #require(tmux.status == 0, "tmux is required for the end-to-end view test (apt-get install -y tmux)")
        let r = try run("/usr/bin/timeout", ["-k", "10", "300", "/bin/bash", Self.script, Built.encmon, Self.fixture])
        let summary = r.stdout.split(separator: "\n").last.map(String.init) ?? "(no output)"
        #expect(r.status == 0, "tui-e2e.sh: \(summary) (exit \(r.status))\n\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains(" passed, 0 failed"), "\(r.stdout)")
    }
}
