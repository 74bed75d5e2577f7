import Testing
import MonitorCore
@testable import MonitorView

/// The 1 s column and the sparklines show complete seconds only; the sparkline span is the
/// header's time since tracking began.
@Suite struct RatesHonestyTests {
    /// `perSecond` conversions a second for `seconds` seconds from t=100, then `extra` just after.
    private func monitor(perSecond: Int, seconds: Int, extra: Int) -> Monitor {
        var m = Monitor()
        var page: UInt64 = 0x1000
        for s in 0..<seconds {
            for k in 0..<perSecond {
                m.apply(Fixtures.conversion(100 + Double(s) + Double(k) / Double(perSecond), page, 1))
                page += 2
            }
        }
        for k in 0..<extra { m.apply(Fixtures.conversion(100 + Double(seconds) + 0.001 * Double(k), page, 1)); page += 2 }
        return m
    }

    @Test func oneSecondColumnIsTheLastCompleteSecond() {
        for (rate, extra) in [(190, 3), (40, 0), (7, 1)] {
            let s = monitor(perSecond: rate, seconds: 12, extra: extra).snapshot()
            // Reference: the events of the last whole second before the clock's second.
            #expect(s.rates[0].callsToShared == Double(rate), "rate \(rate): \(s.rates[0].callsToShared)")
            #expect(s.rates[1].callsToShared == Double(rate))
        }
        // Before a second has completed there is no rate to show yet.
        var m = Monitor()
        m.apply(Fixtures.conversion(5.2, 0x10, 1))
        #expect(m.snapshot().rates[0].calls == 0)
    }

    @Test func sparklineOfASteadyRateDoesNotEndEmptyAndSpansTheHeaderTime() {
        let s = monitor(perSecond: 50, seconds: 20, extra: 2).snapshot()
        let text = PanelRender.text("rates", s, width: 80, height: 4)
        let unicode: String = {
            var g = CellGrid(width: 80, height: 4)
            RatesPanel.draw(s, into: &g, rect: PanelRect(x: 0, y: 0, width: 80, height: 4), theme: Theme(color: false), glyphs: Glyphs(.unicode))
            return g.text
        }()
        let line = unicode.split(separator: "\n").first { $0.contains("calls->shared") }.map(String.init) ?? ""
        let trimmed = line.trimmingWhitespace
        #expect(trimmed.last == "█", "\(line)")
        // 20 complete seconds since tracking began at t=100; the clock is in second 20.
        #expect(text.contains("last 20s"), "\(text)")
        #expect(RatesPanel.samples(s).count == 20)
    }
}
