/// One line of segments fitted to a width by priority rather than by position: when the line
/// is too long, segments give way in a stated order (dropped, or cut down to a minimum with an
/// ellipsis), and segments that were cut get back whatever room is left at the end. A segment's
/// place on the line never depends on its priority.
struct FittedLine<ID: Hashable> {
    struct Segment {
        let id: ID
        var text: String
        var style: CellStyle
    }

    /// How a segment gives way.
    enum Step {
        case drop(ID)
        /// Cut to at least `width` columns (ellipsis included); 0 drops it.
        case cut(ID, to: Int)
    }

    var segments: [Segment] = []

    mutating func append(_ id: ID, _ text: String, _ style: CellStyle = .plain) {
        if !text.isEmpty { segments.append(Segment(id: id, text: text, style: style)) }
    }

    /// The segments that fit in `width` columns with `gap` blanks between them, applying
    /// `steps` in order until they do. Whatever still overflows is clipped by the grid.
    func fitted(width: Int, steps: [Step], gap: Int = 2, ellipsis: String) -> [(String, CellStyle)] {
        var widths = segments.map { $0.text.unicodeScalars.count }
        var kept = [Bool](repeating: true, count: segments.count)
        func total() -> Int {
            var sum = 0, n = 0
            for i in segments.indices where kept[i] { sum += widths[i]; n += 1 }
            return sum + gap * max(0, n - 1)
        }
        var cutOrder: [Int] = []
        for step in steps {
            let over = total() - width
            if over <= 0 { break }
            switch step {
            case .drop(let id):
                for i in segments.indices where segments[i].id == id { kept[i] = false }
            case .cut(let id, let minimum):
                guard let i = segments.firstIndex(where: { $0.id == id }), kept[i] else { continue }
                let w = max(minimum, widths[i] - over)
                if w <= 0 { kept[i] = false } else if w < widths[i] { widths[i] = w; cutOrder.append(i) }
            }
        }
        // Give room back to cut segments, the last cut first: steps run from least to most important.
        var slack = width - total()
        for i in cutOrder.reversed() where slack > 0 && kept[i] {
            let full = segments[i].text.unicodeScalars.count
            let add = min(slack, full - widths[i])
            widths[i] += add; slack -= add
        }
        return segments.indices.filter { kept[$0] }.map { i in
            (Self.cut(segments[i].text, to: widths[i], ellipsis: ellipsis), segments[i].style)
        }
    }

    static func cut(_ text: String, to width: Int, ellipsis: String) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > width else { return text }
        let e = ellipsis.unicodeScalars.count
        guard width > e else { return String(String.UnicodeScalarView(scalars.prefix(width))) }
        return String(String.UnicodeScalarView(scalars.prefix(width - e))) + ellipsis
    }
}
