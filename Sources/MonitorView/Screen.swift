import MonitorCore

/// The screen as a function of (snapshot, source status, view state, size). The terminal layer
/// copies the grid to the screen; `--batch` prints it as text.
public enum Screen {
    /// The whole screen for one frame.
    public static func render(_ snapshot: MonitorSnapshot, source: SourceStatus, state: ViewState,
                              width: Int, height: Int) -> CellGrid {
        let frame = Frame(snapshot: snapshot, state: state, width: width, height: height)
        var g = CellGrid(width: width, height: height)
        draw(snapshot, source: source, state: state, frame: frame, into: &g)
        return g
    }

    /// The frame as plain text, trailing blanks trimmed (tests, `--once`).
    public static func text(_ snapshot: MonitorSnapshot, source: SourceStatus, state: ViewState = ViewState(),
                            width: Int, height: Int) -> String {
        trimTrailingBlankLines(render(snapshot, source: source, state: state, width: width, height: height).text)
    }

    /// The key table: what each key does (nil: not bound).
    public static func command(for key: Key, state: ViewState) -> ViewCommand? {
        KeyTable.command(for: key, state: state)
    }

    static func draw(_ s: MonitorSnapshot, source: SourceStatus, state: ViewState, frame: Frame, into g: inout CellGrid) {
        let l = frame.layout
        let theme = Theme(color: state.color)
        let glyphs = Glyphs(state.charset)
        if l.tooSmall {
            var msg = "terminal too small (\(g.width)x\(g.height)), need \(ScreenLayout.minimumWidth)x\(ScreenLayout.minimumHeight)"
            if msg.count > g.width { msg = "too small" }
            g.put(msg, x: 0, y: 0, style: theme.warning)
            return
        }
        if let r = l.header { HeaderPanel.draw(s, source: source, state: state, into: &g, rect: r, theme: theme, glyphs: glyphs) }
        if let r = l.map, let geo = l.mapGeometry {
            MapPanel.draw(s, state: state, geometry: geo, cursor: frame.cursor, focused: state.focus == .map,
                          into: &g, rect: r, theme: theme, glyphs: glyphs)
        }
        if let r = l.regions {
            RegionsPanel.draw(s, state: state, frame: frame, showPrompt: l.footer == nil, into: &g, rect: r, theme: theme, glyphs: glyphs)
        }
        if let r = l.rates { RatesPanel.draw(s, into: &g, rect: r, theme: theme, glyphs: glyphs) }
        if let r = l.cost { CostPanel.draw(s, into: &g, rect: r, theme: theme) }
        if let r = l.migration { MigrationPanel.draw(s, passRows: l.migrationPassRows, into: &g, rect: r, theme: theme, glyphs: glyphs) }
        if let r = l.footer { FooterBar.draw(state: state, into: &g, rect: r, theme: theme) }
        if state.showHelp { HelpOverlay.draw(into: &g, theme: theme, glyphs: glyphs) }
    }

    static func trimTrailingBlankLines(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}

/// `--batch` / `--once`: the same panels as plain text, every panel at its natural height.
public enum BatchReport {
    public static func render(snapshot: MonitorSnapshot, source: SourceStatus, width: Int = 100,
                              charset: Charset = .ascii) -> String {
        var state = ViewState()
        state.charset = charset
        state.color = false
        let frame = Frame(snapshot: snapshot, state: state, width: width, height: 0, natural: true)
        if frame.layout.tooSmall { return "terminal too small" }
        var g = CellGrid(width: width, height: frame.layout.height)
        Screen.draw(snapshot, source: source, state: state, frame: frame, into: &g)
        return Screen.trimTrailingBlankLines(g.text)
    }
}
