import MonitorCore

extension ViewState {
    /// Applies a view command (cursor, zoom, sort, filter, focus, help). Source commands
    /// (quit, pause, speed, step, reset) are the app loop's and leave the state unchanged here.
    public mutating func apply(_ command: ViewCommand, snapshot: MonitorSnapshot, width: Int, height: Int) {
        let frame = Frame(snapshot: snapshot, state: self, width: width, height: height)
        switch command {
        case .quit, .togglePause, .stepOnce, .faster, .slower, .resetRates:
            return
        case .toggleHelp:
            showHelp.toggle()
        case .cycleFocus:
            // Two panels: either direction toggles.
            if focus == .map {
                focus = .regions
                if let sel = frame.selection { tableSelection = sel }
                tableScroll = frame.scroll
            } else {
                focus = .map
            }
        case .move(let dx, let dy):
            if focus == .map { moveMap(dx: dx, dy: dy, snapshot: snapshot, frame: frame, width: width, height: height) }
            else { moveTable(by: dy != 0 ? dy : dx, frame: frame) }
        case .page(let n):
            if focus == .map {
                moveMap(dx: 0, dy: n * max(1, frame.layout.mapGeometry?.rows ?? 1), snapshot: snapshot, frame: frame, width: width, height: height)
            } else {
                moveTable(by: n * max(1, frame.layout.regionRows), frame: frame)
            }
        case .home:
            if focus == .map {
                if let w = mapWindow { mapWindow = PageRange(first: snapshot.guestSpan.lower, count: w.count) }
                mapCursor = 0
            } else {
                moveTable(to: 0, frame: frame)
            }
        case .end:
            if focus == .map {
                let span = snapshot.guestSpan
                if let w = mapWindow { mapWindow = PageRange(lower: span.upper - min(w.count, span.count), upper: span.upper) }
                let after = Frame(snapshot: snapshot, state: self, width: width, height: height)
                mapCursor = max(0, (after.layout.mapGeometry?.cellCount ?? 1) - 1)
            } else {
                moveTable(to: Int.max / 2, frame: frame)
            }
        case .zoomIn, .zoomOut:
            zoom(in: command == .zoomIn, snapshot: snapshot, frame: frame, width: width, height: height)
        case .cycleSort:
            let all = RegionSortKey.allCases
            sortKey = all[(all.firstIndex(of: sortKey)! + 1) % all.count]
            // Natural direction: addresses ascending, the rest largest/oldest/most first.
            sortDescending = sortKey != .address
            tableScroll = 0; tableSelection = 0
        case .invertSort:
            sortDescending.toggle()
            tableScroll = 0; tableSelection = 0
        case .beginFilter, .beginJump, .filterInput, .filterBackspace, .filterCommit, .filterCancel:
            applyPrompt(command, snapshot: snapshot, frame: frame, width: width, height: height)
        case .click(let x, let y):
            click(x: x, y: y, frame: frame)
        }
    }

    /// The `/` filter and `g` jump prompts: typing, committing, cancelling.
    private mutating func applyPrompt(_ command: ViewCommand, snapshot: MonitorSnapshot, frame: Frame, width: Int, height: Int) {
        switch command {
        case .beginFilter, .beginJump:
            prompt = command == .beginJump ? .jump : .filter
            filterDraft = ""
            filterError = nil
        case .filterInput(let c):
            guard var d = filterDraft, d.count < 40, !c.isNewline else { return }
            d.append(c); filterDraft = d
            filterError = nil
        case .filterBackspace:
            if var d = filterDraft, !d.isEmpty { d.removeLast(); filterDraft = d }
            filterError = nil
        case .filterCommit where prompt == .jump:
            guard let d = filterDraft else { return }
            switch AddressFilter.parse(d) {
            case .success(let address):
                filterDraft = nil; filterError = nil
                jump(to: address >> GuestPage.shift, snapshot: snapshot, frame: frame, width: width, height: height)
            case .failure(let e):
                filterError = e.description
            }
        case .filterCommit:
            guard let d = filterDraft else { return }
            let text = d.trimmingWhitespace
            if text.isEmpty {
                filter = nil; filterDraft = nil; filterError = nil
                tableScroll = 0; tableSelection = 0
                return
            }
            switch RegionFilter.parse(text) {
            case .success:
                filter = text; filterDraft = nil; filterError = nil
                tableSelection = 0; tableScroll = 0
                if frame.layout.regions != nil { focus = .regions }
            case .failure(let e):
                filterError = e.description
            }
        case .filterCancel:
            if filterDraft != nil { filterDraft = nil; filterError = nil }
            else if filter != nil { filter = nil; tableScroll = 0; tableSelection = 0 }
        default:
            return
        }
    }

    /// A mouse click: closes help, else puts the cursor on the map cell or table row under it.
    private mutating func click(x: Int, y: Int, frame: Frame) {
        if showHelp { showHelp = false; return }
        let l = frame.layout
        if let g = l.mapGeometry, let c = g.cell(atX: x, y: y) {
            focus = .map; mapCursor = c
        } else if let r = l.regions, let t = frame.table, r.contains(x: x, y: y), y >= r.y + 2 {
            let row = frame.scroll + (y - r.y - 2)
            guard row < t.rowCount else { return }
            focus = .regions; tableSelection = row; tableScroll = frame.scroll
        }
    }

    /// `g`: the region table in address order at the region holding (or next after) `page`,
    /// and the map cursor on its cell when the map window shows it.
    private mutating func jump(to page: UInt64, snapshot: MonitorSnapshot, frame: Frame, width: Int, height: Int) {
        sortKey = .address; sortDescending = false
        let t = RegionTable(snapshot: snapshot, state: self, needed: 1)
        tableSelection = t.row(atOrAfter: page)
        tableScroll = RegionTable.scroll(0, keeping: tableSelection, visible: frame.layout.regionRows, count: t.rowCount)
        if let g = ScreenLayout.compute(width: width, height: height, snapshot: snapshot, state: self).mapGeometry,
           let cell = g.cell(containing: page) {
            mapCursor = cell
        }
        if frame.layout.regions != nil { focus = .regions }
    }

    private mutating func moveTable(by delta: Int, frame: Frame) {
        moveTable(to: (frame.selection ?? tableSelection) + delta, frame: frame)
    }

    private mutating func moveTable(to target: Int, frame: Frame) {
        guard let t = frame.table, t.rowCount > 0 else { tableSelection = 0; tableScroll = 0; return }
        // Rows past those loaded this frame are loaded by the next one (`Frame` asks for them).
        tableSelection = max(0, min(target, t.rowCount - 1))
        tableScroll = RegionTable.scroll(frame.scroll, keeping: tableSelection, visible: frame.layout.regionRows, count: t.rowCount)
    }

    /// Moves the cursor by cells; past the window's edge the window pans (by whole rows) when zoomed.
    private mutating func moveMap(dx: Int, dy: Int, snapshot: MonitorSnapshot, frame: Frame, width: Int, height: Int) {
        guard let g = frame.layout.mapGeometry, g.cellCount > 0, let cur = frame.cursor else { return }
        let delta = dx + dy * g.columns
        let target = cur + delta
        if target >= 0 && target < g.cellCount { mapCursor = target; return }
        let span = snapshot.guestSpan
        guard mapWindow != nil, g.window != span else {
            mapCursor = max(0, min(target, g.cellCount - 1)); return
        }
        // The page the cursor wants, and a window moved by whole rows to include it.
        let step = g.pagesPerCell
        let rowPages = g.pagesPerRow
        let count = g.window.count
        let curPage = g.pages(ofCell: cur).lower
        var lower = g.window.lower
        let targetPage: UInt64
        if target < 0 {
            let back = UInt64(-delta) * step
            targetPage = curPage >= span.lower + back ? curPage - back : span.lower
            let need = lower - min(lower, targetPage)
            let rows = (need + rowPages - 1) / rowPages
            lower = lower - min(lower - span.lower, rows * rowPages)
        } else {
            let fwd = UInt64(delta) * step
            targetPage = min(span.upper - 1, curPage + fwd)
            let end = lower + count
            let need = targetPage >= end ? targetPage - end + 1 : 0
            let rows = (need + rowPages - 1) / rowPages
            lower = min(span.upper - count, lower + rows * rowPages)
        }
        mapWindow = PageRange(lower: lower, upper: lower + count)
        // The labels may widen with the new window: place the cursor on the geometry drawn next.
        let moved = ScreenLayout.compute(width: width, height: height, snapshot: snapshot, state: self).mapGeometry ?? g
        mapCursor = moved.cell(containing: max(lower, min(targetPage, lower + count - 1))) ?? 0
    }

    /// Halves (or doubles) the window around the cursor's page, clamped to the span; a window
    /// as large as the span is no zoom at all.
    private mutating func zoom(in zoomIn: Bool, snapshot: MonitorSnapshot, frame: Frame, width: Int, height: Int) {
        guard let g = frame.layout.mapGeometry, g.cellCount > 0, let cur = frame.cursor else { return }
        let span = snapshot.guestSpan
        let cell = g.pages(ofCell: cur)
        let center = cell.lower + cell.count / 2
        let capacity = UInt64(max(1, g.columns * g.rows))
        var count: UInt64
        if zoomIn {
            // No closer than one page per cell.
            count = max(min(capacity, span.count), g.window.count / 2)
            if count >= g.window.count { return }
        } else {
            count = g.window.count > span.count / 2 ? span.count : g.window.count * 2
        }
        if count >= span.count {
            mapWindow = nil
        } else {
            let half = count / 2
            var lower = center >= span.lower + half ? center - half : span.lower
            lower = min(lower, span.upper - count)
            mapWindow = PageRange(lower: lower, upper: lower + count)
        }
        let w = effectiveWindow(span: span)
        let moved = ScreenLayout.compute(width: width, height: height, snapshot: snapshot, state: self).mapGeometry ?? g
        mapCursor = moved.cell(containing: max(w.lower, min(center, w.upper - 1))) ?? 0
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
