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
    @Test func detailShowsTheNewestFinishedPass() throws {
        let gib: UInt64 = 1 << 30
        let s = snapshot(transferred: 4 * gib, remaining: gib, status: .active, passes: [pass(1, resent: 0), pass(2, resent: 526)])
        // Without the table the detail names the pass; with it, the pass's row carries the figures.
        var g = CellGrid(width: 120, height: 10)
        MigrationPanel.draw(s, passRows: 0, into: &g, rect: PanelRect(x: 0, y: 0, width: 120, height: 10),
                            theme: Theme(color: false), glyphs: Glyphs(.ascii))
        #expect(g.text.contains("pass 2: re-sent 526 pg for encryption changes"), "\(g.text)")
        let table = PanelRender.text("migration", s, width: 120, height: 10)
        let row = try #require(table.split(separator: "\n").first { $0.hasPrefix("    2 ") })
        #expect(row.split(separator: " ").contains("526"), "\(table)")
        #expect(!table.contains("pass 2: re-sent"))
    }

    /// "sent" counts every pass and passes guest RAM: the screen says so next to it.
    @Test func sentSaysItCountsEveryPass() {
        let gib: UInt64 = 1 << 30
        let s = snapshot(transferred: 4 * gib + gib / 2, remaining: gib / 4, status: .active, passes: [pass(1, resent: 0)])
        let text = PanelRender.text("migration", s, width: 80, height: 8)
        #expect(text.contains("left 256 MiB of 4.00 GiB RAM  sent 4.50 GiB in 2 passes"), "\(text)")
    }

    /// Narrower, the bar goes before the explanation of "sent" does.
    @Test func sentOutlivesTheBar() {
        let gib: UInt64 = 1 << 30
        let s = snapshot(transferred: 4 * gib + gib / 2, remaining: gib / 4, status: .active, passes: [pass(1, resent: 0)])
        for width in 50...68 {
            let line = PanelRender.text("migration", s, width: width, height: 8).split(separator: "\n")[1]
            #expect(line.contains("sent 4.50 GiB in 2 passes"), "\(width): \(line)")
        }
        #expect(PanelRender.text("migration", s, width: 40, height: 8).contains("256 MiB left"))
    }

    /// At 80 columns the pass table keeps every column; narrower, the re-send columns stay longest.
    @Test func passTableColumnsByPriority() {
        #expect(MigrationPanel.passColumns(width: 79).count == MigrationPanel.passColumnNames.count)
        let narrow = MigrationPanel.passColumns(width: 39).map { MigrationPanel.passColumnNames[$0] }
        #expect(narrow == ["pass", "sent", "re-sent", "changed"])
    }
}
