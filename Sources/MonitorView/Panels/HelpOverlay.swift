/// The key list drawn over the panels, from `KeyTable.help`.
enum HelpOverlay {
    static func draw(into g: inout CellGrid, theme: Theme, glyphs: Glyphs) {
        let keyWidth = KeyTable.help.map { $0.keys.count }.max() ?? 0
        let textWidth = KeyTable.help.map { $0.action.count }.max() ?? 0
        let w = min(g.width, keyWidth + textWidth + 6)
        let h = min(g.height, KeyTable.help.count + 4)
        guard w > 4, h > 2 else { return }
        let rect = PanelRect(x: (g.width - w) / 2, y: (g.height - h) / 2, width: w, height: h)
        g.fill(x: rect.x, y: rect.y, width: w, height: h, with: Cell(" ", style: .plain))
        let border = theme.title
        for x in 0..<w {
            g.set(glyphs.horizontal, in: rect, col: x, row: 0, style: border)
            g.set(glyphs.horizontal, in: rect, col: x, row: h - 1, style: border)
        }
        for y in 0..<h {
            g.set(glyphs.vertical, in: rect, col: 0, row: y, style: border)
            g.set(glyphs.vertical, in: rect, col: w - 1, row: y, style: border)
        }
        g.put(" encmon keys ", in: rect, col: 2, row: 0, style: theme.value.merged(into: border))
        let inner = PanelRect(x: rect.x + 2, y: rect.y + 2, width: w - 4, height: h - 3)
        for (i, b) in KeyTable.help.enumerated() {
            let x = g.put(DisplayFormat.padRight(b.keys, keyWidth + 2), in: inner, row: i, style: theme.value)
            g.put(b.action, in: inner, col: x, row: i)
        }
        g.put("any of ? h Esc closes", in: PanelRect(x: rect.x + 2, y: rect.y + 1, width: w - 4, height: 1), row: 0, style: theme.dim)
    }
}
