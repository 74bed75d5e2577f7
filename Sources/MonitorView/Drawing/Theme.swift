/// The styles of every element, in colour or monochrome (bold, dim, reverse, underline only).
struct Theme {
    let color: Bool

    init(color: Bool) { self.color = color }

    private func pick(_ c: CellStyle, _ mono: CellStyle) -> CellStyle { color ? c : mono }

    var plain: CellStyle { .plain }
    var title: CellStyle { pick(CellStyle(foreground: .black, background: .cyan), CellStyle(reverse: true)) }
    var focusedTitle: CellStyle { pick(CellStyle(foreground: .black, background: .green, bold: true), CellStyle(bold: true, reverse: true)) }
    var label: CellStyle { pick(CellStyle(foreground: .cyan), CellStyle(dim: true)) }
    var value: CellStyle { CellStyle(bold: true) }
    var dim: CellStyle { CellStyle(dim: true) }
    var warning: CellStyle { pick(CellStyle(foreground: .yellow, bold: true), CellStyle(bold: true, underline: true)) }
    var error: CellStyle { pick(CellStyle(foreground: .red, bold: true), CellStyle(bold: true, reverse: true)) }
    var good: CellStyle { pick(CellStyle(foreground: .green), CellStyle(bold: true)) }
    var paused: CellStyle { pick(CellStyle(foreground: .black, background: .yellow, bold: true), CellStyle(bold: true, reverse: true)) }

    // Map cells: private is quiet, shared is loud.
    var privateCell: CellStyle { CellStyle(dim: true) }
    var partialCell: CellStyle { pick(CellStyle(foreground: .yellow), .plain) }
    var sharedCell: CellStyle { pick(CellStyle(foreground: .red, bold: true), CellStyle(bold: true)) }
    var holeCell: CellStyle { pick(CellStyle(foreground: .blue, dim: true), CellStyle(dim: true)) }
    var addressLabel: CellStyle { pick(CellStyle(foreground: .cyan, dim: true), CellStyle(dim: true)) }

    /// A recently changed cell, bright when fresh and back to normal after `RecentFade.seconds`.
    func recent(_ base: CellStyle, age: Double, toShared: Bool) -> CellStyle {
        var s = base
        if color {
            s.foreground = toShared ? .magenta : .green
            s.dim = false
            s.bold = age < 1.5
        } else {
            s.underline = true
            s.dim = false
            s.bold = age < 1.5
        }
        if age >= 3.5 { s.dim = true; s.bold = false }
        return s
    }

    var cursor: CellStyle { CellStyle(reverse: true) }
    var selectedRow: CellStyle { pick(CellStyle(foreground: .black, background: .cyan), CellStyle(reverse: true)) }
    var inactiveSelection: CellStyle { pick(CellStyle(foreground: .cyan, bold: true, underline: true), CellStyle(bold: true, underline: true)) }
    var sparkShared: CellStyle { pick(CellStyle(foreground: .yellow), .plain) }
    var sparkPrivate: CellStyle { pick(CellStyle(foreground: .green), .plain) }
    var sparkFlips: CellStyle { pick(CellStyle(foreground: .magenta), .plain) }
    var barDone: CellStyle { pick(CellStyle(foreground: .green), CellStyle(bold: true)) }
    var barLeft: CellStyle { CellStyle(dim: true) }
    var keyHint: CellStyle { pick(CellStyle(foreground: .black, background: .cyan), CellStyle(reverse: true)) }
}

/// How long a changed map cell stays highlighted (the snapshot keeps 5 s of recent changes).
enum RecentFade {
    static let seconds = 5.0
}
