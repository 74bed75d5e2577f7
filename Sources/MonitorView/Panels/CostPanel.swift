import MonitorCore

/// What tracking the shared set costs: a bitmap over the span against a range list, which wins
/// and by how much, the peak region count, and the memory the map itself uses.
enum CostPanel {
    static func segments(_ s: MonitorSnapshot, theme: Theme) -> [(String, CellStyle)] {
        let c = s.trackingCost
        let bitmapWins = c.bitmapBytes < c.rangeListBytes
        let (small, large) = bitmapWins ? (c.bitmapBytes, c.rangeListBytes) : (c.rangeListBytes, c.bitmapBytes)
        let ratio = small == 0 ? (large == 0 ? "equal" : "all of it") : ByteFormat.formatFixed(Double(large) / Double(small), digits: 1) + "x smaller"
        let verdict = c.bitmapBytes == c.rangeListBytes ? "same size" : "\(bitmapWins ? "bitmap" : "range list") wins, \(ratio)"
        return [("bitmap \(DisplayFormat.bytes(c.bitmapBytes))", bitmapWins ? theme.good : .plain),
                ("range list \(DisplayFormat.bytes(c.rangeListBytes)) (\(DisplayFormat.count(UInt64(c.regions))) regions)", bitmapWins ? .plain : theme.good),
                (verdict, theme.value),
                ("peak \(DisplayFormat.count(UInt64(c.peakRegions))) regions (\(DisplayFormat.bytes(c.peakRangeListBytes)))", .plain),
                ("map memory \(DisplayFormat.bytes(UInt64(max(0, c.mapMemoryBytes))))", theme.dim)]
    }

    static func lineCount(snapshot: MonitorSnapshot, width: Int) -> Int {
        max(1, Flow.rows(segments(snapshot, theme: Theme(color: false)).map(\.0), width: max(1, width - 1)))
    }

    static func draw(_ s: MonitorSnapshot, into g: inout CellGrid, rect: PanelRect, theme: Theme) {
        g.titleBar(" Tracking cost (shared set as bitmap vs range list)", in: rect, style: theme.title)
        g.flow(segments(s, theme: theme), in: PanelRect(x: rect.x + 1, y: rect.y + 1, width: rect.width - 1, height: rect.height - 1))
    }
}
