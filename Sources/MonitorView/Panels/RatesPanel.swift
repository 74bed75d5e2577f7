import MonitorCore

/// Conversion rates over 1/10/60 s with sparklines of the per-second history, churn (flips/s
/// and the most-flipped buffers), the pool what-if, and kernel counters where present.
enum RatesPanel {
    enum Line: Int, CaseIterable {
        case callsShared, callsPrivate, pagesShared, pagesPrivate, flips, pool, counters, flipped1, flipped2, flipped3
        /// Lower comes first when rows are short.
        var priority: Int {
            switch self {
            case .callsShared: 0
            case .callsPrivate: 1
            case .flips: 2
            case .pool: 3
            case .pagesShared: 4
            case .pagesPrivate: 5
            case .counters: 6
            case .flipped1: 7
            case .flipped2: 8
            case .flipped3: 9
            }
        }
    }

    static let labelWidth = 15
    static let figureWidth = 7

    static func lines(_ s: MonitorSnapshot) -> [Line] {
        Line.allCases.filter { l in
            switch l {
            case .counters: !s.counters.isEmpty
            case .flipped1: !s.mostFlipped.isEmpty
            case .flipped2: s.mostFlipped.count > 1
            case .flipped3: s.mostFlipped.count > 2
            default: true
            }
        }
    }

    static func lineCount(snapshot: MonitorSnapshot) -> Int { lines(snapshot).count }

    static func draw(_ s: MonitorSnapshot, into g: inout CellGrid, rect: PanelRect, theme: Theme, glyphs: Glyphs) {
        guard rect.height > 0 else { return }
        let sparkCol = labelWidth + 3 * figureWidth + 2
        let sparkWidth = rect.width - sparkCol
        var title = DisplayFormat.padRight(" Rates (per s)", labelWidth)
        for w in s.rates { title += DisplayFormat.padLeft("\(w.window)s", figureWidth) }
        let history = samples(s)
        if sparkWidth >= 8, !history.isEmpty {
            let per = Sparkline.buckets(history.map { Double($0.callsToShared) }, columns: sparkWidth).secondsPerColumn
            let n = min(min(history.count, 300), sparkWidth * per)
            title = DisplayFormat.padRight(title, sparkCol) + "last \(DisplayFormat.duration(Double(n)))" + (per > 1 ? " (\(per)s/col)" : "")
        }
        g.titleBar(title, in: rect, style: theme.title)

        let all = lines(s)
        let shown = Set(all.sorted { $0.priority < $1.priority }.prefix(rect.height - 1))
        var row = 1
        for line in all where shown.contains(line) {
            drawLine(line, s, row: row, sparkCol: sparkCol, sparkWidth: sparkWidth, into: &g, rect: rect, theme: theme, glyphs: glyphs)
            row += 1
        }
    }

    private static func drawLine(_ line: Line, _ s: MonitorSnapshot, row: Int, sparkCol: Int, sparkWidth: Int,
                                 into g: inout CellGrid, rect: PanelRect, theme: Theme, glyphs: Glyphs) {
        func figures(_ label: String, _ pick: (RateFigures) -> Double, _ sample: (RateSample) -> UInt64, _ style: CellStyle) {
            g.put(" " + label, in: rect, row: row, style: theme.label)
            var x = labelWidth
            for w in s.rates {
                g.put(DisplayFormat.padLeft(DisplayFormat.rate(pick(w)), figureWidth), in: rect, col: x, row: row, style: w.window == 1 ? theme.value : .plain)
                x += figureWidth
            }
            if sparkWidth >= 8 {
                let values = Sparkline.buckets(samples(s).map { Double(sample($0)) }, columns: sparkWidth).values
                Sparkline.draw(values, into: &g, in: rect, col: sparkCol, row: row, width: sparkWidth, glyphs: glyphs, style: style)
            }
        }
        switch line {
        case .callsShared: figures("calls->shared", { $0.callsToShared }, { $0.callsToShared }, theme.sparkShared)
        case .callsPrivate: figures("calls->private", { $0.callsToPrivate }, { $0.callsToPrivate }, theme.sparkPrivate)
        case .pagesShared: figures("pages->shared", { $0.pagesToShared }, { $0.pagesToShared }, theme.sparkShared)
        case .pagesPrivate: figures("pages->private", { $0.pagesToPrivate }, { $0.pagesToPrivate }, theme.sparkPrivate)
        case .flips:
            figures("flips", { $0.flips }, { $0.flips }, theme.sparkFlips)
            if sparkWidth < 8 {
                g.put("total \(DisplayFormat.count(s.totalFlips))", in: rect, col: sparkCol, row: row, style: theme.dim)
            }
        case .pool:
            g.flow(poolSegments(s, theme: theme, width: rect.width - 1), in: PanelRect(x: rect.x + 1, y: rect.y + row, width: rect.width - 1, height: 1))
        case .counters:
            var segs: [(String, CellStyle)] = [("kernel", theme.label)]
            for c in s.counters {
                segs.append(("\(c.name) \(DisplayFormat.count(c.value)) (\(DisplayFormat.rate(c.perSecond))/s)", .plain))
            }
            g.flow(segs, in: PanelRect(x: rect.x + 1, y: rect.y + row, width: rect.width - 1, height: 1))
        case .flipped1, .flipped2, .flipped3:
            let i = line.rawValue - Line.flipped1.rawValue
            guard i < s.mostFlipped.count else { return }
            let b = s.mostFlipped[i]
            let label = i == 0 ? "most flipped" : ""
            g.put(" " + label, in: rect, row: row, style: theme.label)
            let text = "\(DisplayFormat.address(page: b.pages.lower)) +\(DisplayFormat.pagesAsBytes(b.pages.count))  \(b.flips) flips  last \(DisplayFormat.duration(s.time - b.lastFlip)) ago"
            g.put(text, in: rect, col: labelWidth, row: row, style: .plain)
        }
    }

    /// The complete seconds since tracking began, up to the model's clock (`s.time`), so the
    /// span drawn is the header's time since tracking began in whole seconds (quiet seconds
    /// since the last event are empty samples). The second in progress is left out, as the 1 s
    /// figure leaves it out: drawn, it would end every sparkline in a near-empty column.
    static func samples(_ s: MonitorSnapshot) -> ArraySlice<RateSample> {
        guard let since = s.trackingSince, s.time >= since, s.time - since < 1e12 else { return [] }
        let now = Int64((s.time - since).rounded(.down))   // the second in progress
        let h = s.history
        guard let base = h.first?.second else { return [] }
        let start = max(0, now - Int64(h.count))
        return (start..<now).map { sec -> RateSample in
            let i = sec - base   // the history is one bucket per second, contiguous
            return i >= 0 && i < Int64(h.count) && h[Int(i)].second == sec ? h[Int(i)] : RateSample(second: sec)
        }[...]
    }

    /// "a pool of K kept-shared pages would avoid N conversions (x%)", for the smallest pool
    /// that gets within 90% of the best saving.
    static func poolSegments(_ s: MonitorSnapshot, theme: Theme, width: Int = .max) -> [(String, CellStyle)] {
        let best = s.poolWhatIf.map(\.conversionsAvoided).max() ?? 0
        guard best > 0, let pick = s.poolWhatIf.first(where: { Double($0.conversionsAvoided) >= 0.9 * Double(best) }) else {
            return [("pool what-if", theme.label), ("no flips in the churn window (\(DisplayFormat.duration(s.churnWindow))) yet", theme.dim)]
        }
        let short = "pool of \(pick.poolPages) pg avoids \(DisplayFormat.count(pick.conversionsAvoided)) conversions (\(DisplayFormat.percent(pick.fractionOfConversions)))"
        if width < 14 + 70 { return [(short, theme.good)] }
        return [("pool what-if", theme.label),
                ("a pool of \(pick.poolPages) kept-shared pages (\(DisplayFormat.pagesAsBytes(pick.poolPages))) would avoid \(DisplayFormat.count(pick.conversionsAvoided)) conversions (\(DisplayFormat.percent(pick.fractionOfConversions)))", theme.good)]
    }
}
