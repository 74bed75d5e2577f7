import Foundation
import Testing
import MonitorCore
@testable import MonitorView

@Suite struct ZZDumpGoldens {
    @Test func dump() throws {
        let snapshot = Fixtures.migratingMonitor().snapshot()
        let state = Fixtures.state { $0.charset = .ascii }
        func screen(_ w: Int, _ h: Int, _ st: ViewState? = nil) -> String {
            Screen.text(snapshot, source: Fixtures.replay, state: st ?? state, width: w, height: h)
        }
        var help = state; help.showHelp = true
        let items: [(String, String)] = [
            ("screen80x24", screen(80, 24)), ("screen120x40", screen(120, 40)), ("screen40x10", screen(40, 10)),
            ("screen10x2", screen(10, 2)), ("help80x24", screen(80, 24, help)),
            ("batch", BatchReport.render(snapshot: snapshot, source: Fixtures.replay, width: 100)),
            ("cost", PanelRender.text("cost", snapshot, width: 60, height: 3)),
            ("migration", PanelRender.text("migration", snapshot, width: 80, height: 8)),
            ("rates", PanelRender.text("rates", snapshot, width: 70, height: 11)),
            ("header", PanelRender.text("header", snapshot, width: 70, height: 2)),
        ]
        var out = "/// Expected text of the golden tests (ASCII, monochrome). Regenerate by eye, never blindly.\nenum Goldens {\n"
        for (name, text) in items {
            out += "    static let \(name) = \"\"\"\n"
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                out += line.isEmpty ? "\n" : "        " + line + "\n"
            }
            out += "        \"\"\"\n"
        }
        out += "}\n"
        try out.write(toFile: "/tmp/Goldens.swift", atomically: true, encoding: .utf8)
    }
}
