import MonitorCore

/// The shared-region table: start, end, size, age, flips and last change, sortable, filtered
/// by address range, size and flips (`/`), with the selected row following the map cursor while the map has focus.
enum RegionsPanel {
    struct Column {
        let name: String
        let width: Int
        let key: RegionSortKey?
    }

    static func columns(addressWidth aw: Int) -> [Column] {
        [Column(name: "start", width: aw, key: .address), Column(name: "end", width: aw, key: nil),
         Column(name: "size", width: 9, key: .size), Column(name: "age", width: 7, key: .age),
         Column(name: "flips", width: 6, key: .flips), Column(name: "changed", width: 8, key: nil)]
    }

    static func draw(_ s: MonitorSnapshot, state: ViewState, frame: Frame, showPrompt: Bool,
                     into g: inout CellGrid, rect: PanelRect, theme: Theme, glyphs: Glyphs) {
        guard let table = frame.table else { return }
        let focused = state.focus == .regions
        let arrow = state.sortDescending ? glyphs.sortDown : glyphs.sortUp
        var title = " Shared regions \(DisplayFormat.count(UInt64(s.regions.count)))"
        if let k = table.topK { title += "  top \(k)" }
        title += "  by \(state.sortKey.rawValue)\(arrow)"
        if table.filter != nil, let f = state.filter {
            title += "  / \(f): \(table.filterCapped ? "first " : "")\(DisplayFormat.count(UInt64(table.rowCount))) match\(table.rowCount == 1 ? "" : "es")"
        }
        g.titleBar(title + " ", in: rect, style: focused ? theme.focusedTitle : theme.title)
        if showPrompt, let draft = state.filterDraft {
            let end = g.put((state.prompt == .jump ? "  go to " : "  / ") + draft + "_", in: rect, col: title.unicodeScalars.count + 1, row: 0, style: theme.value)
            if let e = state.filterError { g.put("  " + e, in: rect, col: end, row: 0, style: theme.error) }
        } else if let e = table.filterError ?? (state.filterDraft == nil ? nil : state.filterError) {
            g.put("  " + e, in: rect, col: title.unicodeScalars.count + 1, row: 0, style: theme.error)
        }
        guard rect.height >= 2 else { return }

        let aw = max(10, Hex.pageAddress(s.guestSpan.upper).count)
        var cols = columns(addressWidth: aw)
        // Narrow panels lose columns from the right.
        while cols.count > 1 && 1 + cols.reduce(0, { $0 + $1.width + 1 }) > rect.width + 1 { cols.removeLast() }
        var x = 1
        for c in cols {
            var name = c.name
            var style = theme.label
            if c.key == state.sortKey { name += arrow; style.bold = true; style.underline = true }
            let text = c.key == .address || c.name == "end" ? DisplayFormat.padRight(name, c.width) : DisplayFormat.padLeft(name, c.width)
            g.put(text, in: rect, col: x, row: 1, style: style)
            x += c.width + 1
        }

        let visible = rect.height - 2
        guard visible > 0, table.rowCount > 0 else {
            if visible > 0 { g.put(s.regions.count == 0 ? " no shared pages" : " no region matches the filter (Esc clears it)", in: rect, row: 2, style: theme.dim) }
            return
        }
        for r in 0..<max(0, min(visible, table.loadedRows - frame.scroll)) {
            let i = frame.scroll + r
            let region = table.region(atRow: i)
            let row = r + 2
            var style = CellStyle.plain
            if i == frame.selection { style = focused ? theme.selectedRow : theme.inactiveSelection }
            if i == frame.selection && focused { g.fill(x: rect.x, y: rect.y + row, width: rect.width, height: 1, with: Cell(" ", style: style)) }
            var mark: Unicode.Scalar = " "
            if region.isApproximate { mark = "~" }
            g.set(mark, in: rect, col: 0, row: row, style: region.isApproximate ? theme.warning.merged(into: style) : style)
            var x = 1
            for c in cols {
                let text: String
                switch c.name {
                case "start": text = DisplayFormat.padRight(DisplayFormat.address(page: region.pages.lower), c.width)
                case "end": text = DisplayFormat.padRight(DisplayFormat.address(page: region.pages.upper), c.width)
                case "size": text = DisplayFormat.padLeft(DisplayFormat.pagesAsBytes(region.pages.count), c.width)
                case "age": text = DisplayFormat.padLeft(DisplayFormat.duration(s.time - s.time(ofStamp: region.firstShared)), c.width)
                case "flips": text = DisplayFormat.padLeft(DisplayFormat.count(s.flipIndex.flips(in: region.pages)), c.width)
                default: text = DisplayFormat.padLeft(DisplayFormat.duration(s.time - s.time(ofStamp: region.lastChange)), c.width)
                }
                g.put(text, in: rect, col: x, row: row, style: style)
                x += c.width + 1
            }
        }
    }
}

extension CellStyle {
    /// `self`'s colours and attributes on top of `base` (attributes add up).
    func merged(into base: CellStyle) -> CellStyle {
        var s = base
        s.foreground = foreground ?? base.foreground
        s.background = background ?? base.background
        s.bold = s.bold || bold; s.dim = s.dim || dim; s.reverse = s.reverse || reverse; s.underline = s.underline || underline
        return s
    }
}
