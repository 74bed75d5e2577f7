import Testing
import MonitorCore
@testable import MonitorView

@Suite struct MigrationPanelTests {
    private func snapshot(transferred: UInt64, remaining: UInt64, status: MigrationStatus, passes: [MigrationPassRecord]) -> MonitorSnapshot {
        var m = Monitor()
        let gib: UInt64 = 1 << 30
        for r in passes { m.apply(.migrationPass(r)) }
        m.apply(.migrationProgress(MigrationProgress(time: 40, status: status, pass: passes.count + 1,
                                                     ramTransferredBytes: transferred, ramRemainingBytes: remaining,
                                                     ramTotalBytes: 4 * gib, dirtyPagesPerSecond: 1000,
                                                     bandwidthBytesPerSecond: 2e8)))
        return m.snapshot()
    }

    private func pass(_ n: Int, resent: UInt64) -> MigrationPassRecord {
        MigrationPassRecord(pass: n, startTime: Double(n), endTime: Double(n) + 1, pagesSent: 1000, sharedPagesSent: 10,
                            pagesDirtied: 100, pagesResentForEncryption: resent, pagesChangedState: resent + 1,
                            resyncBitmapBytes: 196_608, resyncRangeListBytes: 928)
    }

    /// Later passes re-send pages, so bytes sent pass the RAM total long before the end: the bar
    /// follows what is left.
    @Test func progressFollowsWhatIsLeftNotWhatWasSent() {
        let gib: UInt64 = 1 << 30
        let s = snapshot(transferred: 4 * gib + gib / 32, remaining: gib / 2, status: .active, passes: [pass(1, resent: 0)])
        let text = PanelRender.text("migration", s, width: 100, height: 8)
        #expect(text.contains(" 88% "), "\(text)")
        let done = snapshot(transferred: 5 * gib, remaining: 0, status: .completed, passes: [pass(1, resent: 0)])
        #expect(PanelRender.text("migration", done, width: 100, height: 8).contains("100%"))
    }

    /// While pass N runs it has no record yet; the detail line shows the newest finished pass.
    @Test func detailShowsTheNewestFinishedPass() {
        let gib: UInt64 = 1 << 30
        let s = snapshot(transferred: 4 * gib, remaining: gib, status: .active, passes: [pass(1, resent: 0), pass(2, resent: 526)])
        let text = PanelRender.text("migration", s, width: 120, height: 10)
        #expect(text.contains("pass 2: re-sent 526 pg for encryption changes"), "\(text)")
    }
}
