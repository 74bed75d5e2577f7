import MonitorCore

/// The guest-physical memory map: the span (or the zoom window) laid across the panel, one cell
/// per slice, shaded by the shared fraction; holes of the layout, recent changes fading with
/// age, the cursor cell, address labels at row starts and a status line for the cursor.
enum MapPanel {
    static func draw(_ s: MonitorSnapshot, state: ViewState, geometry g: MapGeometry, cursor: Int?, focused: Bool,
                     into grid: inout CellGrid, rect: PanelRect, theme: Theme, glyphs: Glyphs) {
        drawTitle(s, state: state, geometry: g, into: &grid, rect: rect, theme: theme, glyphs: glyphs, focused: focused)
        guard g.cellCount > 0 else { return }
        let shared = g.sharedPerCell(s.regions)
        let holes = holeCells(s.layout, geometry: g)
        let recent = recentCells(s, geometry: g)
        let shadeStyles = [theme.privateCell, theme.partialCell, theme.partialCell, theme.partialCell, theme.sharedCell]

        for i in 0..<g.cellCount {
            let total = i == 0 || i == g.cellCount - 1 ? g.pages(ofCell: i).count : g.pagesPerCell
            var ch: Unicode.Scalar
            var style: CellStyle
            if let holes, holes[i], shared[i] == 0 {
                ch = glyphs.hole; style = theme.holeCell
            } else {
                let k = glyphs.shadeIndex(shared: shared[i], total: total)
                ch = glyphs.shades[k]; style = shadeStyles[k]
            }
            if let recent, recent.age[i] >= 0 {
                style = theme.recent(style, age: recent.age[i], toShared: recent.toShared[i])
            }
            if i == cursor { style = focused ? theme.cursor : CellStyle(bold: true, reverse: true, underline: true) }
            let p = g.position(ofCell: i)
            grid[p.x, p.y] = Cell(ch, style: style)
        }
        if g.labelWidth > 0 {
            let rows = (g.cellCount + g.columns - 1) / g.columns
            for r in 0..<min(rows, g.rows) {
                let label = DisplayFormat.address(page: g.rowStart(r))
                grid.put(DisplayFormat.padLeft(label, g.labelWidth - 1), x: g.x - g.labelWidth, y: g.y + r,
                         style: theme.addressLabel, maxWidth: g.labelWidth - 1)
            }
        }
        if rect.height >= 3, let c = cursor {
            drawStatus(s, geometry: g, cursor: c, into: &grid, rect: rect, theme: theme)
        }
    }

    private static func drawTitle(_ s: MonitorSnapshot, state: ViewState, geometry g: MapGeometry, into grid: inout CellGrid,
                                  rect: PanelRect, theme: Theme, glyphs: Glyphs, focused: Bool) {
        let style = focused ? theme.focusedTitle : theme.title
        let span = s.guestSpan
        let zoom = g.window != span && g.window.count > 0 ? "  zoom x\(DisplayFormat.count(span.count / max(1, g.window.count)))" : ""
        let range = "\(DisplayFormat.address(page: g.window.lower))-\(DisplayFormat.address(page: g.window.upper))"
        let cell = DisplayFormat.pagesAsBytes(g.pagesPerCell)
        // The legend says what the map means, so it outranks the title's wording: the title
        // shortens first, then the legend, down to the bare shading key.
        let titles = [" Memory map \(range)  cell = \(cell)\(zoom)", " Map \(range)  cell \(cell)\(zoom)"]
        let legends = legendForms(hole: s.layout != nil, glyphs: glyphs)
        var chosen = (titles[0], legends[0])
        search: for legend in legends {
            for title in titles where title.unicodeScalars.count + 2 + legend.unicodeScalars.count <= rect.width {
                chosen = (title, legend); break search
            }
            chosen = (titles[1], legend)
        }
        grid.titleBar(chosen.0, in: rect, style: style)
        grid.putRight(chosen.1, in: rect, row: 0, style: style, after: chosen.0.unicodeScalars.count + 2)
    }

    /// The legend, longest first: full words, short words, glyphs only.
    static func legendForms(hole: Bool, glyphs: Glyphs) -> [String] {
        let sh = glyphs.shades
        let partly = "\(sh[1])\(sh[2])\(sh[3])"
        let h = hole ? " \(glyphs.hole) hole" : ""
        return ["\(sh[0]) private \(partly) partly \(sh[4]) shared\(h) ",
                "\(sh[0]) priv \(partly) part \(sh[4]) shared\(h) ",
                "\(sh[0])priv \(partly)part \(sh[4])shr\(hole ? " \(glyphs.hole)hole" : "") "]
    }

    private static func drawStatus(_ s: MonitorSnapshot, geometry g: MapGeometry, cursor c: Int,
                                   into grid: inout CellGrid, rect: PanelRect, theme: Theme) {
        let pages = g.pages(ofCell: c)
        let shared = s.regions.sharedPages(in: pages)
        let regions = regionCount(s.regions, overlapping: pages)
        var segs: [(String, CellStyle)] = [
            ("cursor \(DisplayFormat.address(page: pages.lower))-\(DisplayFormat.address(page: pages.upper)) (\(DisplayFormat.pagesAsBytes(pages.count)))", theme.value),
            ("shared \(DisplayFormat.pagesAsBytes(shared)) (\(DisplayFormat.percent(pages.count == 0 ? 0 : Double(shared) / Double(pages.count))))", shared > 0 ? theme.partialCell : .plain),
            ("\(regions) region\(regions == 1 ? "" : "s")", .plain),
        ]
        if let l = s.layout, let kind = l.ranges.first(where: { $0.pages.overlaps(pages) }) {
            segs.append((kind.name.isEmpty ? kind.kind.rawValue : "\(kind.kind.rawValue): \(kind.name)", theme.dim))
        }
        grid.flow(segs, in: PanelRect(x: rect.x, y: rect.maxY - 1, width: rect.width, height: 1))
    }

    /// Regions overlapping `pages`, O(log n).
    static func regionCount(_ map: SharedRegionMap, overlapping pages: PageRange) -> Int {
        guard !pages.isEmpty else { return 0 }
        let first = map.index(ofFirstRegionEndingAfter: pages.lower)
        var end = map.index(ofFirstRegionEndingAfter: pages.upper - 1)
        if end < map.count, map.region(at: end).pages.lower < pages.upper { end += 1 }
        return max(0, end - first)
    }

    /// Cells with no RAM (or firmware) under them, when the layout is known. O(cells + ranges).
    static func holeCells(_ layout: GuestLayout?, geometry g: MapGeometry) -> [Bool]? {
        guard let layout else { return nil }
        let ram = layout.ranges.filter { $0.kind == .ram || $0.kind == .firmware }.map(\.pages)
        var out = [Bool](repeating: false, count: g.cellCount)
        var j = 0
        for i in 0..<g.cellCount {
            let p = g.pages(ofCell: i)
            while j < ram.count && ram[j].upper <= p.lower { j += 1 }
            out[i] = !(j < ram.count && ram[j].lower < p.upper)
        }
        return out
    }

    /// Age of the newest change under each cell (-1: none) and its direction. Changes are
    /// visited newest first and each cell is filled once (a skip list of unfilled cells), so
    /// the cost is O(cells + changes) however wide the changes are.
    static func recentCells(_ s: MonitorSnapshot, geometry g: MapGeometry) -> (age: [Double], toShared: [Bool])? {
        guard !s.recentChanges.isEmpty, g.cellCount > 0 else { return nil }
        var age = [Double](repeating: -1, count: g.cellCount)
        var dir = [Bool](repeating: false, count: g.cellCount)
        var next = Array(0...g.cellCount)
        func find(_ i: Int) -> Int {
            var i = i
            while next[i] != i { next[i] = next[next[i]]; i = next[i] }
            return i
        }
        for change in s.recentChanges.reversed() {
            let a = s.time - change.time
            guard a <= RecentFade.seconds else { continue }
            let p = change.pages.clamped(to: g.window)
            guard !p.isEmpty, let c0 = g.cell(containing: p.lower), let c1 = g.cell(containing: p.upper - 1) else { continue }
            var i = find(c0)
            while i <= c1 {
                age[i] = max(0, a); dir[i] = change.direction == .toShared
                next[i] = i + 1
                i = find(i + 1)
            }
        }
        return (age, dir)
    }
}
