/// The eight ANSI colours; `nil` in a style means the terminal's default.
public enum TerminalColor: UInt8, Sendable, Hashable, CaseIterable {
    case black, red, green, yellow, blue, magenta, cyan, white
}

public struct CellStyle: Sendable, Hashable {
    public var foreground: TerminalColor?
    public var background: TerminalColor?
    public var bold = false
    public var dim = false
    public var reverse = false
    public var underline = false

    public init(foreground: TerminalColor? = nil, background: TerminalColor? = nil,
                bold: Bool = false, dim: Bool = false, reverse: Bool = false, underline: Bool = false) {
        self.foreground = foreground; self.background = background
        self.bold = bold; self.dim = dim; self.reverse = reverse; self.underline = underline
    }
    public static let plain = CellStyle()
}

/// One screen position: a single-column Unicode scalar and its style.
public struct Cell: Sendable, Hashable {
    public var scalar: Unicode.Scalar
    public var style: CellStyle
    public init(_ scalar: Unicode.Scalar = " ", style: CellStyle = .plain) { self.scalar = scalar; self.style = style }
}

/// A plain grid of styled cells: panels draw into it, the terminal copies it to the screen, and
/// tests read it as text. Writes outside the grid are clipped.
public struct CellGrid: Sendable, Hashable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(0, width); self.height = max(0, height)
        cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { if x >= 0, y >= 0, x < width, y < height { cells[y * width + x] = newValue } }
    }

    /// Writes `text` from (x, y), one scalar per column, clipped at the grid edge or at `maxWidth`.
    /// Returns the column after the last written scalar.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: CellStyle = .plain, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        let limit = min(width, x + (maxWidth ?? width))
        var col = x
        for s in text.unicodeScalars {
            if col >= limit { break }
            if col >= 0 { cells[y * width + col] = Cell(s, style: style) }
            col += 1
        }
        return col
    }

    /// Sets the style of cells in a row span without changing their characters.
    public mutating func restyle(x: Int, y: Int, width w: Int, _ change: (inout CellStyle) -> Void) {
        guard y >= 0, y < height else { return }
        for col in max(0, x)..<min(width, x + w) { change(&cells[y * width + col].style) }
    }

    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, with cell: Cell) {
        for row in max(0, y)..<min(height, y + h) {
            for col in max(0, x)..<min(width, x + w) { cells[row * width + col] = cell }
        }
    }

    /// The grid as lines of text, trailing spaces trimmed (golden tests, `--batch`).
    public var text: String {
        (0..<height).map { row in
            var line = String(String.UnicodeScalarView(cells[(row * width)..<((row + 1) * width)].map(\.scalar)))
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}
