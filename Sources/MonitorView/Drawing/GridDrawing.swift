/// Drawing helpers on top of `CellGrid`, all clipped to a panel rectangle.
extension CellGrid {
    /// Writes `text` at column `col` of row `row` of `rect`, clipped to the rectangle.
    @discardableResult
    mutating func put(_ text: String, in rect: PanelRect, col: Int = 0, row: Int, style: CellStyle = .plain) -> Int {
        guard row >= 0, row < rect.height, col < rect.width else { return col }
        let end = put(text, x: rect.x + col, y: rect.y + row, style: style, maxWidth: rect.width - col)
        return end - rect.x
    }

    /// Right-aligns `text` against the rectangle's right edge (skipped when it would not fit).
    mutating func putRight(_ text: String, in rect: PanelRect, row: Int, style: CellStyle = .plain, after used: Int = 0) {
        let n = text.unicodeScalars.count
        let col = rect.width - n
        guard col >= used else { return }
        put(text, in: rect, col: col, row: row, style: style)
    }

    /// One scalar at a rectangle-relative position.
    @inline(__always)
    mutating func set(_ s: Unicode.Scalar, in rect: PanelRect, col: Int, row: Int, style: CellStyle) {
        guard col >= 0, row >= 0, col < rect.width, row < rect.height else { return }
        self[rect.x + col, rect.y + row] = Cell(s, style: style)
    }

    /// A title bar across the whole first row of `rect`.
    mutating func titleBar(_ text: String, in rect: PanelRect, style: CellStyle) {
        guard rect.height > 0, rect.width > 0 else { return }
        fill(x: rect.x, y: rect.y, width: rect.width, height: 1, with: Cell(" ", style: style))
        put(text, in: rect, col: 0, row: 0, style: style)
    }

    /// Lays out `segments` left to right from `row`, wrapping to the next row when one does not
    /// fit (a segment wider than the rectangle is cut). Returns the rows used.
    @discardableResult
    mutating func flow(_ segments: [(String, CellStyle)], in rect: PanelRect, row: Int = 0, gap: Int = 2) -> Int {
        var r = row, c = 0
        for (text, style) in segments where !text.isEmpty {
            let n = text.unicodeScalars.count
            if c > 0 && c + gap + n > rect.width { r += 1; c = 0 }
            if r >= rect.height { break }
            if c > 0 { c += gap }
            c = put(text, in: rect, col: c, row: r, style: style)
        }
        return c == 0 ? r - row : r - row + 1
    }
}

/// Text layout without a grid: how many rows `flow` would use.
enum Flow {
    static func rows(_ segments: [String], width: Int, gap: Int = 2) -> Int {
        guard width > 0 else { return 0 }
        var r = 0, c = 0, any = false
        for t in segments where !t.isEmpty {
            let n = min(width, t.unicodeScalars.count)
            if c > 0 && c + gap + n > width { r += 1; c = 0 }
            if c > 0 { c += gap }
            c += n; any = true
        }
        return any ? r + 1 : 0
    }
}
