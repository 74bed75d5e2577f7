import MonitorCore

/// Top lines: where the events come from, the span, event time, speed or live, pause, event and
/// error counts, what is not known (tracking since, approximate map) and the last marker.
enum HeaderPanel {
    static func draw(_ s: MonitorSnapshot, source: SourceStatus, state: ViewState, into g: inout CellGrid, rect: PanelRect, theme: Theme) {
        var first: [(String, CellStyle)] = [("encmon", theme.value)]
        if state.paused { first.append((" PAUSED ", theme.paused)) }
        first.append(("t " + DisplayFormat.eventTime(s.time), theme.value))
        if source.finished {
            first.append(("finished", theme.good))
        } else if let speed = state.speed {
            first.append(("x" + speedText(speed), theme.value))
        } else if source.kind == .live || source.kind == .daemon {
            first.append(("live", theme.good))
        }
        var where_ = "\(source.kind.rawValue): \(source.name)"
        if !source.position.isEmpty { where_ += " " + source.position }
        first.append((where_, .plain))
        let span = s.guestSpan
        first.append(("span \(DisplayFormat.address(page: span.lower))-\(DisplayFormat.address(page: span.upper)) (\(DisplayFormat.pagesAsBytes(span.count)))", .plain))

        var second: [(String, CellStyle)] = []
        second.append(("events \(DisplayFormat.count(s.totals.events))", .plain))
        second.append(("shared \(DisplayFormat.pagesAsBytes(s.regions.sharedPages)) in \(DisplayFormat.count(UInt64(s.regions.count))) regions", theme.value))
        if source.malformedLines > 0 { second.append(("malformed lines \(source.malformedLines)", theme.warning)) }
        let dropped = max(source.droppedEvents, s.totals.lostEvents)
        if dropped > 0 { second.append(("dropped events \(dropped)", theme.warning)) }
        if s.totals.rejected > 0 { second.append(("rejected \(s.totals.rejected)", theme.warning)) }
        if s.regions.isApproximate { second.append(("! approximate map (region cap reached)", theme.error)) }
        if let m = s.lastMarker { second.append(("phase: " + m, theme.label)) }
        if source.kind != .demo, let since = s.trackingSince {
            second.append(("tracking since t " + DisplayFormat.eventTime(since) + ", earlier state unknown", theme.dim))
        }

        if rect.height >= 2 {
            g.flow(first, in: PanelRect(x: rect.x, y: rect.y, width: rect.width, height: 1))
            g.flow(second, in: rect.dropFirst(1))
        } else {
            g.flow(first + second, in: rect)
        }
    }

    static func speedText(_ v: Double) -> String {
        v == v.rounded() && v < 1e6 ? String(Int(v)) : ByteFormat.formatFixed(v, digits: v < 1 ? 2 : 1)
    }
}
