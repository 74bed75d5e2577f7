/// The characters the panels draw with, Unicode or plain ASCII (`--ascii`, `state.charset`).
struct Glyphs {
    /// Map shading: [private, partly (3 density steps), fully shared].
    let shades: [Unicode.Scalar]
    /// A cell entirely outside RAM (MMIO hole, gap in the layout).
    let hole: Unicode.Scalar
    /// Sparkline levels 1...8 (0 is a blank).
    let spark: [Unicode.Scalar]
    let barDone: Unicode.Scalar
    let barLeft: Unicode.Scalar
    let sortUp: String
    let sortDown: String
    let horizontal: Unicode.Scalar
    let vertical: Unicode.Scalar
    let corner: Unicode.Scalar
    /// Marks text cut to fit.
    let ellipsis: String

    init(_ charset: Charset) {
        switch charset {
        case .unicode:
            shades = ["·", "░", "▒", "▓", "█"]
            hole = "╌"
            spark = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
            barDone = "█"; barLeft = "░"
            sortUp = "▲"; sortDown = "▼"
            horizontal = "─"; vertical = "│"; corner = "┼"; ellipsis = "…"
        case .ascii:
            shades = [".", "-", "+", "#", "@"]
            hole = "~"
            spark = ["_", ".", ",", ":", "=", "+", "*", "#"]
            barDone = "#"; barLeft = "."
            sortUp = "^"; sortDown = "v"
            horizontal = "-"; vertical = "|"; corner = "+"; ellipsis = "..."
        }
    }

    /// The shade for `shared` of `total` pages: private, three partial steps, fully shared.
    @inline(__always)
    func shadeIndex(shared: UInt64, total: UInt64) -> Int {
        if shared == 0 || total == 0 { return 0 }
        if shared >= total { return 4 }
        // 1: under a third, 2: under two thirds, 3: more.
        let f = Double(shared) / Double(total)
        return f < 1.0 / 3 ? 1 : (f < 2.0 / 3 ? 2 : 3)
    }
}
