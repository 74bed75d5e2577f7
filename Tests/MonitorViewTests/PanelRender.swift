import MonitorCore
@testable import MonitorView

/// Draws one panel alone into a grid of its own (ASCII, monochrome) for the golden tests.
enum PanelRender {
    static func text(_ panel: String, _ s: MonitorSnapshot, source: SourceStatus = Fixtures.replay,
                     state: ViewState = Fixtures.state(), width: Int, height: Int) -> String {
        var g = CellGrid(width: width, height: height)
        let rect = PanelRect(x: 0, y: 0, width: width, height: height)
        let theme = Theme(color: false), glyphs = Glyphs(.ascii)
        switch panel {
        case "header": HeaderPanel.draw(s, source: source, state: state, into: &g, rect: rect, theme: theme, glyphs: glyphs)
        case "cost": CostPanel.draw(s, into: &g, rect: rect, theme: theme)
        case "rates": RatesPanel.draw(s, into: &g, rect: rect, theme: theme, glyphs: glyphs)
        case "migration": MigrationPanel.draw(s, passRows: 2, into: &g, rect: rect, theme: theme, glyphs: glyphs)
        default: break
        }
        return Screen.trimTrailingBlankLines(g.text)
    }
}
