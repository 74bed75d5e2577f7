import MonitorCore

/// Where the map's cells are and which pages each covers. Render and input share it, so a
/// click lands on the cell that was drawn there.
///
/// Every cell covers `pagesPerCell` pages except the last, which takes what is left of the
/// window; cells past the window's end are blank.
public struct MapGeometry: Sendable, Hashable {
    /// The part of the guest span shown.
    public let window: PageRange
    public let pagesPerCell: UInt64
    /// Screen position of cell 0.
    public let x: Int
    public let y: Int
    public let columns: Int
    public let rows: Int
    /// Width of the address labels left of the cells (0 when the panel is too narrow).
    public let labelWidth: Int
    /// Cells that cover the window (at most columns x rows).
    public let cellCount: Int

    public init(window: PageRange, x: Int, y: Int, columns: Int, rows: Int, labelWidth: Int) {
        self.window = window; self.x = x; self.y = y
        self.columns = max(0, columns); self.rows = max(0, rows); self.labelWidth = labelWidth
        let capacity = UInt64(max(1, self.columns * self.rows))
        let step = max(1, (window.count + capacity - 1) / capacity)
        pagesPerCell = step
        cellCount = self.columns * self.rows == 0 || window.isEmpty ? 0 : Int((window.count + step - 1) / step)
    }

    /// The pages of cell `i` (empty past the window).
    public func pages(ofCell i: Int) -> PageRange {
        guard i >= 0, i < cellCount else { return PageRange(lower: window.upper, upper: window.upper) }
        let lo = window.lower + UInt64(i) * pagesPerCell
        return PageRange(lower: lo, upper: min(window.upper, lo + pagesPerCell))
    }

    public func cell(containing page: UInt64) -> Int? {
        guard window.contains(page) else { return nil }
        return Int((page - window.lower) / pagesPerCell)
    }

    /// The cell drawn at screen position (x, y), if any.
    public func cell(atX px: Int, y py: Int) -> Int? {
        let c = px - x, r = py - y
        guard c >= 0, c < columns, r >= 0, r < rows else { return nil }
        let i = r * columns + c
        return i < cellCount ? i : nil
    }

    /// Screen position of cell `i`.
    public func position(ofCell i: Int) -> (x: Int, y: Int) { (x + i % max(1, columns), y + i / max(1, columns)) }

    /// Pages a full row of cells covers (the pan step).
    public var pagesPerRow: UInt64 { pagesPerCell * UInt64(max(1, columns)) }

    /// Shared pages per cell, one batched query (plus one for the last, shorter cell).
    func sharedPerCell(_ map: SharedRegionMap) -> [UInt64] {
        guard cellCount > 0 else { return [] }
        var out: [UInt64]
        if cellCount > 1 {
            let full = PageRange(lower: window.lower, upper: window.lower + UInt64(cellCount - 1) * pagesPerCell)
            out = map.sharedPagesPerCell(span: full, cells: cellCount - 1)
        } else {
            out = []
        }
        out.reserveCapacity(cellCount)
        out.append(map.sharedPages(in: pages(ofCell: cellCount - 1)))
        return out
    }
}

extension ViewState {
    /// The window the map shows: `mapWindow` clamped to the span, or the whole span.
    public func effectiveWindow(span: PageRange) -> PageRange {
        guard let w = mapWindow else { return span }
        let c = w.clamped(to: span)
        return c.isEmpty ? span : c
    }
}
