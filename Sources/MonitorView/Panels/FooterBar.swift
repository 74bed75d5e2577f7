/// The last line: key hints (htop's function bar), or the filter prompt while typing.
enum FooterBar {
    static let hints: [(String, String)] = [("?", "Help"), ("q", "Quit"), ("p", "Pause"), ("Tab", "Focus"), ("s", "Sort"),
                                            ("I", "Invert"), ("/", "Filter"), ("g", "Goto"), ("+-", "Zoom"), ("<>", "Speed"), ("n", "Step"), ("r", "Reset")]

    static func draw(state: ViewState, into g: inout CellGrid, rect: PanelRect, theme: Theme) {
        if let draft = state.filterDraft {
            let jump = state.prompt == .jump
            var x = g.put(jump ? "Go to address: " : "Filter regions: ", in: rect, row: 0, style: theme.value)
            x = g.put(draft + "_", in: rect, col: x, row: 0, style: theme.keyHint)
            if let e = state.filterError {
                g.put("  " + e, in: rect, col: x, row: 0, style: theme.error)
            } else {
                g.put(jump ? "  Enter go  Esc cancel  (hex 0x1f000000, decimal, K/M/G)"
                           : "  Enter apply  Esc cancel  (4G-6G  size>64K  flips>0; all must hold)", in: rect, col: x, row: 0, style: theme.dim)
            }
            return
        }
        var x = 0
        for (key, label) in hints {
            guard x + key.count + label.count + 1 <= rect.width else { break }
            x = g.put(key, in: rect, col: x, row: 0, style: .plain)
            x = g.put(label, in: rect, col: x, row: 0, style: theme.keyHint)
            x += 1
        }
    }
}
