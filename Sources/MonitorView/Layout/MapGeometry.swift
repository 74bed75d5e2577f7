import MonitorCore

/// Where the map's cells are and which pages each covers. Render and input share it, so a
/// click lands on the cell that was drawn there.
///
/// Cells are a power-of-two number of pages, the smallest that fits the window into the
/// panel, and sit on multiples of that size (cell boundaries and row labels are round
/// addresses); the map may use fewer cells than the panel has. The first and last cells are
/// cut to the window when it does not start or end on a boundary; cells past its end are blank.
public struct MapGeometry: Sendable, Hashable {
    /// The part of the guest span shown.
    public let window: PageRange
    public let pagesPerCell: UInt64
    /// Start of cell 0's slot: `window.lower` rounded down to a multiple of `pagesPerCell`.
    public let origin: UInt64
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
        var step = Self.powerOfTwo(atLeast: (window.count + capacity - 1) / capacity)
        // An unaligned window can need one cell more than its length suggests.
        while Self.cells(window, step: step) > capacity { step <<= 1 }
        pagesPerCell = step
        origin = window.lower / step * step
        cellCount = self.columns * self.rows == 0 || window.isEmpty ? 0 : Int(Self.cells(window, step: step))
    }

    /// Rows of cells the geometry fills (at most `rows`).
    public var usedRows: Int { columns == 0 ? 0 : (cellCount + columns - 1) / columns }

    static func powerOfTwo(atLeast n: UInt64) -> UInt64 {
        n <= 1 ? 1 : 1 << (64 - UInt64((n - 1).leadingZeroBitCount))
    }

    private static func cells(_ window: PageRange, step: UInt64) -> UInt64 {
        window.isEmpty ? 0 : (window.upper - window.lower / step * step + step - 1) / step
    }

    /// The pages of cell `i` (empty past the window).
    public func pages(ofCell i: Int) -> PageRange {
        guard i >= 0, i < cellCount else { return PageRange(lower: window.upper, upper: window.upper) }
        let slot = origin + UInt64(i) * pagesPerCell
        return PageRange(lower: max(window.lower, slot), upper: min(window.upper, slot + pagesPerCell))
    }

    public func cell(containing page: UInt64) -> Int? {
        guard window.contains(page) else { return nil }
        return Int((page - origin) / pagesPerCell)
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

    /// Address (page) where row `r` of cells starts: a multiple of the cell size, even when
    /// the first cell is cut to the window.
    public func rowStart(_ r: Int) -> UInt64 { origin + UInt64(r * columns) * pagesPerCell }

    /// Shared pages per cell: one batched query for the whole cells, one more for each cut end.
    func sharedPerCell(_ map: SharedRegionMap) -> [UInt64] {
        guard cellCount > 0 else { return [] }
        if cellCount == 1 { return [map.sharedPages(in: window)] }
        let cutFirst = origin < window.lower
        let cutLast = pages(ofCell: cellCount - 1).count < pagesPerCell
        let a = cutFirst ? 1 : 0, b = cutLast ? cellCount - 1 : cellCount
        var out: [UInt64] = []
        out.reserveCapacity(cellCount)
        if cutFirst { out.append(map.sharedPages(in: pages(ofCell: 0))) }
        if b > a {
            let whole = PageRange(lower: origin + UInt64(a) * pagesPerCell, upper: origin + UInt64(b) * pagesPerCell)
            out += map.sharedPagesPerCell(span: whole, cells: b - a)
        }
        if cutLast { out.append(map.sharedPages(in: pages(ofCell: cellCount - 1))) }
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
