@testable import encmon
import Testing

/// The curses-free decisions of the terminal layer and the session loop.
@Suite struct SessionPolicyTests {
    @Test(arguments: [
        (false, "xterm-256color", true, true, OutputMode.interactive),
        (true, "xterm-256color", true, true, .batch(reason: nil)),
        (false, "xterm", true, false, .batch(reason: "stdout is not a terminal")),
        (false, "xterm", false, true, .batch(reason: "stdin is not a terminal")),
        (false, nil, true, true, .batch(reason: "TERM is not set")),
        (false, "", true, true, .batch(reason: "TERM is not set")),
        (false, "dumb", true, true, .batch(reason: "TERM=dumb cannot show the full-screen view")),
        (false, "unknown", true, true, .batch(reason: "TERM=unknown cannot show the full-screen view")),
    ] as [(Bool, String?, Bool, Bool, OutputMode)])
    func outputMode(forceBatch: Bool, term: String?, stdinIsTTY: Bool, stdoutIsTTY: Bool, expected: OutputMode) {
        #expect(decideOutputMode(forceBatch: forceBatch, term: term, stdinIsTTY: stdinIsTTY, stdoutIsTTY: stdoutIsTTY) == expected)
    }

    @Test func characterKeys() {
        #expect(CursesTerminal.characterKey(9) == .tab)
        #expect(CursesTerminal.characterKey(13) == .enter)
        #expect(CursesTerminal.characterKey(10) == .enter)
        #expect(CursesTerminal.characterKey(27) == .escape)
        #expect(CursesTerminal.characterKey(127) == .backspace)
        #expect(CursesTerminal.characterKey(12) == .resize)
        #expect(CursesTerminal.characterKey(1) == nil)
        #expect(CursesTerminal.characterKey(0x71) == .character("q"))
        #expect(CursesTerminal.characterKey(0xE9) == .character("é"))
    }

    @Test func speedStaysWithinLimits() {
        #expect(ReplaySpeed.faster(1) == 2)
        #expect(ReplaySpeed.faster(4096) == 4096)
        #expect(ReplaySpeed.faster(1_000_000) == 1_000_000)
        #expect(ReplaySpeed.slower(1.0 / 64) == 1.0 / 64)
        #expect(ReplaySpeed.slower(.infinity) == ReplaySpeed.maximum)
    }
}
