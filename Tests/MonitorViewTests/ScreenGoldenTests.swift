import Testing
import MonitorCore
@testable import MonitorView

/// Golden text of whole screens and of each panel for a small fixed guest (ASCII, monochrome).
@Suite struct ScreenGoldenTests {
    let snapshot = Fixtures.migratingMonitor().snapshot()
    let state = Fixtures.state { $0.charset = .ascii }

    func screen(_ w: Int, _ h: Int, _ st: ViewState? = nil) -> String {
        Screen.text(snapshot, source: Fixtures.replay, state: st ?? state, width: w, height: h)
    }

    @Test func screen80x24() { #expect(screen(80, 24) == Goldens.screen80x24) }
    @Test func screen120x40() { #expect(screen(120, 40) == Goldens.screen120x40) }
    @Test func screen40x10() { #expect(screen(40, 10) == Goldens.screen40x10) }
    @Test func screen10x2() { #expect(screen(10, 2) == Goldens.screen10x2) }
    @Test func screen0x0() {
        let g = Screen.render(snapshot, source: Fixtures.replay, state: state, width: 0, height: 0)
        #expect(g.width == 0 && g.height == 0 && g.text == "")
    }
    @Test func helpOverlay() {
        var st = state; st.showHelp = true
        #expect(screen(80, 24, st) == Goldens.help80x24)
        for (keys, _) in KeyTable.help { #expect(Goldens.help80x24.contains(keys)) }
    }
    @Test func batchReport() {
        #expect(BatchReport.render(snapshot: snapshot, source: Fixtures.replay, width: 100) == Goldens.batch)
    }

    @Test func costPanel() { #expect(PanelRender.text("cost", snapshot, width: 60, height: 3) == Goldens.cost) }
    @Test func migrationPanel() { #expect(PanelRender.text("migration", snapshot, width: 80, height: 8) == Goldens.migration) }
    @Test func ratesPanel() { #expect(PanelRender.text("rates", snapshot, width: 70, height: 11) == Goldens.rates) }
    @Test func headerPanel() { #expect(PanelRender.text("header", snapshot, width: 70, height: 2) == Goldens.header) }

    @Test func headerShowsPauseDroppedMalformedAndLive() {
        var m = Fixtures.bootedMonitor()
        m.apply(.lostEvents(time: 9, count: 7))
        let src = SourceStatus(kind: .live, name: "VM 3 (web, pid 1234)", malformedLines: 2)
        var st = ViewState(); st.paused = true
        let text = PanelRender.text("header", m.snapshot(), source: src, state: st, width: 200, height: 2)
        #expect(text.contains("PAUSED"))
        #expect(text.contains("live"))
        #expect(text.contains("malformed lines 2"))
        #expect(text.contains("lost events 7"))
        #expect(text.contains("tracking since"))
        #expect(text.contains("phase: steady"))
        // A demo starts from boot: nothing before it is unknown.
        #expect(!PanelRender.text("header", m.snapshot(), source: Fixtures.demo, width: 200, height: 2).contains("tracking since"))
    }

    @Test func approximateMapIsFlagged() {
        var config = MonitorConfiguration(); config.regionCap = 2
        var m = Monitor(configuration: config)
        for i in 0..<5 as Range<UInt64> { m.apply(Fixtures.conversion(Double(i), i * 10, 1)) }
        let text = Screen.text(m.snapshot(), source: Fixtures.replay, state: state, width: 120, height: 30)
        #expect(text.contains("approximate map"))
    }

    @Test func noMigrationPanelWithoutMigration() {
        let s = Fixtures.bootedMonitor().snapshot()
        #expect(!Screen.text(s, source: Fixtures.replay, state: state, width: 80, height: 24).contains("Migration"))
        #expect(Screen.text(s, source: Fixtures.replay, state: state, width: 80, height: 24).contains("Tracking cost"))
    }
}
