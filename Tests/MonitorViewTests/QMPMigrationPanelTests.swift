import Testing
import MonitorCore
@testable import MonitorView

/// The migration panel with QMP figures: no per-pass records, conversions from the trace stream.
@Suite struct QMPMigrationPanelTests {
    private func progress(_ t: Double, _ status: MigrationStatus, pass: Int, setup: Double? = 0.004) -> MonitorEvent {
        .migrationProgress(MigrationProgress(time: t, status: status, pass: pass, ramTransferredBytes: 1 << 28,
                                             ramRemainingBytes: 1 << 27, ramTotalBytes: 1 << 30, dirtyPagesPerSecond: 50,
                                             bandwidthBytesPerSecond: 2e7, downtimeSeconds: 0.3, setupSeconds: setup))
    }

    private func toShared(_ t: Double, _ first: UInt64, _ n: UInt64) -> MonitorEvent {
        .conversion(Conversion(time: t, pages: PageRange(first: first, count: n), direction: .toShared, path: .hypercall))
    }

    @Test func showsSetupTimeAndConversionsDuringThePass() {
        var m = Monitor()
        m.apply(progress(1, .active, pass: 1))
        let first = PanelRender.text("migration", m.snapshot(), width: 120, height: 10)
        #expect(first.contains("0 conversions before the first sync -> 0 pg to re-send"), "\(first)")
        for i in 0..<4 { m.apply(toShared(2, UInt64(i) * 100, 3)) }
        m.apply(progress(3, .active, pass: 2))
        let text = PanelRender.text("migration", m.snapshot(), width: 120, height: 10)
        #expect(text.contains("setup 4 ms"), "\(text)")
        #expect(text.contains("4 conversions during pass 1 -> 12 pg to re-send"), "\(text)")
    }

    @Test func aSecondMigrationIsNamedAndStartsOver() {
        var m = Monitor()
        m.apply(progress(1, .active, pass: 3))
        m.apply(progress(2, .completed, pass: 4))
        m.apply(progress(3, .setup, pass: 0, setup: nil))
        let text = PanelRender.text("migration", m.snapshot(), width: 120, height: 10)
        #expect(text.contains("setup  pass 0  (migration 2)"), "\(text)")
        #expect(!text.contains("setup 4 ms"), "\(text)")
    }
}
