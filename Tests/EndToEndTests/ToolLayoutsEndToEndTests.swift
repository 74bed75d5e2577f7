import SystemLibc
import Testing

/// Trace fidelity against the real tools: the kernel's text under several clocks and options,
/// `trace-cmd report` (default, -l, -t, -R) and `perf script` (default, --ns, -F selections) of a
/// uprobe stand-in in a private tracefs instance, each replayed to the program's figures.
@Suite struct ToolLayoutsEndToEndTests {
    @Test(.enabled(if: getuid() == 0, "needs root for tracefs"))
    func realToolOutputsReplayToTheSameFigures() throws {
        let r = try run("/bin/bash", [Built.repositoryRoot + "/scripts/tool-layouts-e2e.sh", Built.encmon])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains(" passed, 0 failed"))
        // trace-cmd and perf are optional on a host; where missing the script says so.
        if r.stdout.contains("skip - ") { print(r.stdout.split(separator: "\n").filter { $0.hasPrefix("skip - ") }.joined(separator: "\n")) }
    }
}
