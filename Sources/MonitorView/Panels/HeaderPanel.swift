import MonitorCore

/// Top lines: where the events come from, the span, event time, speed or live, pause, event and
/// error counts, what is not known (tracking since, approximate map) and the last marker.
///
/// The first line gives way by importance, not by position: the span goes first, then the
/// program name, then the position is shortened, then speed, time and pause; the source name is
/// the last thing cut. With one row, the second line's fields are dropped before any of these.
enum HeaderPanel {
    enum Field: Hashable {
        case program, paused, time, state, source, position, span
        /// The second line's fields, when there is one row.
        case detail(Int)
    }

    static func draw(_ s: MonitorSnapshot, source: SourceStatus, state: ViewState, into g: inout CellGrid, rect: PanelRect,
                     theme: Theme, glyphs: Glyphs) {
        var first = FittedLine<Field>()
        first.append(.program, "encmon", theme.value)
        if state.paused { first.append(.paused, " PAUSED ", theme.paused) }
        first.append(.time, "t " + DisplayFormat.eventTime(s.time), theme.value)
        if let stateText = source.state {
            first.append(.state, stateText, theme.warning)
        } else if source.finished {
            first.append(.state, "finished", theme.good)
        } else if let speed = state.speed {
            first.append(.state, "x" + speedText(speed), theme.value)
        } else if source.kind == .live || source.kind == .daemon {
            first.append(.state, "live", theme.good)
        }
        first.append(.source, sourceName(source))
        first.append(.position, positionText(source))
        let span = s.guestSpan
        first.append(.span, "span \(DisplayFormat.address(page: span.lower))-\(DisplayFormat.address(page: span.upper)) (\(DisplayFormat.pagesAsBytes(span.count)))")

        var second: [(String, CellStyle)] = []
        second.append(("events \(DisplayFormat.count(s.totals.events))", .plain))
        second.append(("shared \(DisplayFormat.pagesAsBytes(s.regions.sharedPages)) in \(DisplayFormat.count(UInt64(s.regions.count))) region\(s.regions.count == 1 ? "" : "s")", theme.value))
        if source.malformedLines > 0 { second.append(("malformed lines \(source.malformedLines)", theme.warning)) }
        if let lost = s.totals.lossText(sourceDropped: source.droppedEvents) { second.append(("lost events \(lost)", theme.warning)) }
        // Dropped by encmon itself when the model side fell behind a live (push) source.
        if source.overflowedEvents > 0 { second.append(("dropped events \(source.overflowedEvents)", theme.warning)) }
        if !source.timeInSeconds { second.append(("time unit unknown: rates per tick", theme.warning)) }
        if s.totals.rejected > 0 { second.append(("rejected \(s.totals.rejected)", theme.warning)) }
        if s.regions.isApproximate { second.append(("! approximate map (region cap reached)", theme.error)) }
        // A demo's position is its phase, already on the first line.
        if let m = s.lastMarker, !showsPhase(source, marker: m) { second.append(("phase: " + m, theme.label)) }
        // A source that saw the guest start (a daemon running before the VM) knows everything.
        if source.kind != .demo, !source.sawGuestStart, let since = s.trackingSince {
            second.append(("tracking since t " + DisplayFormat.eventTime(since) + ", earlier state unknown", theme.dim))
        }

        var steps: [FittedLine<Field>.Step] = [.drop(.span), .drop(.program), .cut(.position, to: 16),
                                               .drop(.state), .drop(.time), .cut(.position, to: 0),
                                               .drop(.paused), .cut(.source, to: 1)]
        if rect.height >= 2 {
            g.flow(first.fitted(width: rect.width, steps: steps, ellipsis: glyphs.ellipsis), in: PanelRect(x: rect.x, y: rect.y, width: rect.width, height: 1))
            g.flow(second, in: rect.dropFirst(1))
        } else {
            // One row: the counts fit after the first line's fields or not at all.
            var line = first
            for (i, (text, style)) in second.enumerated() { line.append(.detail(i), text, style) }
            let dropDetails: [FittedLine<Field>.Step] = second.indices.reversed().map { .drop(.detail($0)) }
            steps.insert(contentsOf: dropDetails, at: 0)
            g.flow(line.fitted(width: rect.width, steps: steps, ellipsis: glyphs.ellipsis), in: rect)
        }
    }

    /// "replay: boot.trace"; a name that already says its kind ("demo: tour ...") is not prefixed again.
    static func sourceName(_ source: SourceStatus) -> String {
        let kind = source.kind.rawValue
        let name = source.name
        if name.isEmpty { return kind }
        let lower = name.lowercased()
        if lower == kind || lower.hasPrefix(kind + ":") || lower.hasPrefix(kind + " ") { return name }
        return kind + ": " + name
    }

    /// "line 1200 (24%)", the demo's phase, or the source's own text.
    static func positionText(_ source: SourceStatus) -> String {
        switch source.location {
        case .line(let n):
            guard let p = source.progress, p.isFinite else { return "line \(n)" }
            return "line \(n) (\(Int((min(1, max(0, p)) * 100).rounded(.down)))%)"
        case .phase(let phase): return phase
        case .unknown: return source.position
        }
    }

    /// Whether the first line already shows the phase: the demo's location is its current phase.
    static func showsPhase(_ source: SourceStatus, marker: String) -> Bool {
        guard case .phase(let phase) = source.location, !phase.isEmpty else { return false }
        return source.kind == .demo || phase == marker
    }

    static func speedText(_ v: Double) -> String {
        v == v.rounded() && v < 1e6 ? String(Int(v)) : ByteFormat.formatFixed(v, digits: v < 1 ? 2 : 1)
    }
}
