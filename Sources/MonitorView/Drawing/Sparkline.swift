import MonitorCore

/// Per-second history drawn as one character per column (htop's graph meter, btop's boxes).
enum Sparkline {
    /// Averages `samples` (oldest first) into `columns` buckets of whole seconds, newest at the
    /// right. Returns the values and the seconds each column covers.
    static func buckets(_ samples: [Double], columns: Int, maxSeconds: Int = 300) -> (values: [Double], secondsPerColumn: Int) {
        guard columns > 0, !samples.isEmpty else { return ([], 1) }
        let shown = min(samples.count, maxSeconds)
        let per = max(1, (shown + columns - 1) / columns)
        let n = min(columns, (shown + per - 1) / per)
        var out = [Double](repeating: 0, count: n)
        let end = samples.count
        for i in 0..<n {
            // Column n-1 ends at the newest sample.
            let hi = end - (n - 1 - i) * per
            let lo = max(0, hi - per)
            var s = 0.0
            for k in lo..<hi { s += samples[k] }
            out[i] = s / Double(per)
        }
        return (out, per)
    }

    /// Draws `values` scaled to their maximum, right-aligned in `width` columns.
    static func draw(_ values: [Double], into grid: inout CellGrid, in rect: PanelRect, col: Int, row: Int,
                     width: Int, glyphs: Glyphs, style: CellStyle) {
        guard width > 0, !values.isEmpty else { return }
        let peak = values.max() ?? 0
        let start = col + width - values.count
        for (i, v) in values.enumerated() {
            var ch: Unicode.Scalar = " "
            if v > 0 && peak > 0 {
                let level = min(glyphs.spark.count, max(1, Int((v / peak * Double(glyphs.spark.count)).rounded(.up))))
                ch = glyphs.spark[level - 1]
            }
            grid.set(ch, in: rect, col: start + i, row: row, style: style)
        }
    }
}
