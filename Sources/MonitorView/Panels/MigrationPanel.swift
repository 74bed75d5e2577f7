import MonitorCore

/// Live migration, shown only while one is tracked: status and pass, RAM sent/remaining/total
/// as a bar, dirty rate against bandwidth, pages re-sent because their encryption state
/// changed, the resync cost, (expected) downtime, and a per-pass table when there is room.
enum MigrationPanel {
    static let maxPassRows = 6

    /// `table`: the per-pass table is shown, so the last pass's re-send and resync figures (a
    /// row of it) are not repeated here.
    static func detailSegments(_ s: MonitorSnapshot, theme: Theme, table: Bool = false) -> [(String, CellStyle)] {
        var segs: [(String, CellStyle)] = []
        let m = s.migration
        if let p = m.latest {
            let dirtyBytes = p.dirtyPagesPerSecond * Double(GuestPage.size)
            segs.append(("dirty \(DisplayFormat.rate(p.dirtyPagesPerSecond)) pg/s (\(ByteFormat.human(dirtyBytes))/s)", .plain))
            let converging = p.bandwidthBytesPerSecond <= 0 || dirtyBytes < p.bandwidthBytesPerSecond
            segs.append(("vs bandwidth \(ByteFormat.human(p.bandwidthBytesPerSecond))/s", converging ? .plain : theme.warning))
            if !converging { segs.append(("dirtying faster than sending", theme.warning)) }
            if let setup = p.setupSeconds { segs.append(("setup " + millis(setup), .plain)) }
            if let d = p.downtimeSeconds {
                let done = p.status == .completed
                segs.append(((done ? "downtime " : "expected downtime ") + millis(d), done ? theme.value : .plain))
            }
        }
        if let last = m.passes.last {
            // The newest finished pass: the current one has no record until it ends.
            if !table, let r = m.passes.last(where: { $0.record != nil })?.record {
                segs.append(("pass \(r.pass): re-sent \(DisplayFormat.count(r.pagesResentForEncryption)) pg for encryption changes (\(DisplayFormat.count(r.pagesChangedState)) changed state)", theme.partialCell))
                segs.append(("resync bitmap \(DisplayFormat.bytes(r.resyncBitmapBytes)) vs ranges \(DisplayFormat.bytes(r.resyncRangeListBytes))", .plain))
            }
            if !table {
                segs.append(("observed state changes at pass \(last.pass): \(DisplayFormat.count(last.observedStateChanges)) pg, \(DisplayFormat.count(UInt64(last.regionsAtSync))) regions", .plain))
            }
            // From the conversion stream alone (QMP has no per-pass record): what the guest
            // converted since the previous sync, and so what the VMM must send again.
            if last.record == nil || last.conversionsSincePreviousSync > 0 {
                // Between the previous sync and this one, the pass that began at the previous sync ran.
                let span = m.passes.count > 1 ? "during pass \(m.passes[m.passes.count - 2].pass)" : "before the first sync"
                segs.append(("\(DisplayFormat.count(last.conversionsSincePreviousSync)) conversions \(span) -> \(DisplayFormat.count(last.observedStateChanges)) pg to re-send", .plain))
            }
        }
        return segs
    }

    /// Rows below the title: the bar, then the detail flow (shorter when the table is shown).
    static func summaryLines(snapshot: MonitorSnapshot, width: Int, table: Bool = false) -> Int {
        (snapshot.migration.latest == nil ? 0 : 1)
            + Flow.rows(detailSegments(snapshot, theme: Theme(color: false), table: table).map(\.0), width: max(1, width - 1))
    }

    static func passTableRows(snapshot: MonitorSnapshot) -> Int { min(maxPassRows, snapshot.migration.passes.count) }

    static func draw(_ s: MonitorSnapshot, passRows: Int, into g: inout CellGrid, rect: PanelRect, theme: Theme, glyphs: Glyphs) {
        let m = s.migration
        var title = " Migration"
        if let p = m.latest {
            title += "  \(p.status.rawValue)  pass \(p.pass)"
            if m.migrationsSeen > 1 { title += "  (migration \(m.migrationsSeen))" }
            if let note = p.note { title += "  " + note }
        } else if let last = m.passes.last {
            title += "  pass \(last.pass)"
        }
        let failed = m.latest.map { $0.status == .failed || $0.status == .cancelled } ?? false
        g.titleBar(title, in: rect, style: failed ? theme.error.merged(into: theme.title) : theme.title)
        guard rect.height > 1 else { return }
        var row = 1
        if let p = m.latest {
            // Progress is what is left of RAM, not bytes sent: later passes re-send pages, so
            // sent bytes pass the total long before the migration ends.
            let total = max(p.ramTotalBytes, 1)
            let frac = p.status == .completed ? 1 : max(0, min(1, 1 - Double(p.ramRemainingBytes) / Double(total)))
            let (text, barWidth) = progressLine(p, fraction: frac, width: rect.width)
            var x = g.put(" RAM ", in: rect, row: row, style: theme.label)
            if barWidth >= 5 {
                x = g.put("[", in: rect, col: x, row: row)
                let done = Int((frac * Double(barWidth)).rounded(.down))
                for i in 0..<barWidth {
                    g.set(i < done ? glyphs.barDone : glyphs.barLeft, in: rect, col: x + i, row: row, style: i < done ? theme.barDone : theme.barLeft)
                }
                x = g.put("]", in: rect, col: x + barWidth, row: row)
            }
            g.put(text, in: rect, col: x, row: row, style: .plain)
            row += 1
        }
        let detailRect = PanelRect(x: rect.x + 1, y: rect.y + row, width: rect.width - 1, height: max(0, rect.height - row - (passRows > 0 ? passRows + 1 : 0)))
        row += g.flow(detailSegments(s, theme: theme, table: passRows > 0), in: detailRect)
        guard passRows > 0, row < rect.height else { return }
        let keep = passColumns(width: rect.width - 1)
        let cols = keep.map { passColumnNames[$0] }
        let widths = keep.map { passColumnWidths[$0] }
        var x = 1
        for (c, w) in zip(cols, widths) { g.put(DisplayFormat.padLeft(c, w), in: rect, col: x, row: row, style: theme.label); x += w + 1 }
        row += 1
        for p in m.passes.suffix(min(passRows, rect.height - row)) {
            let r = p.record
            let name = r?.isStopAndCopy == true ? "stop" : String(p.pass)
            func n(_ v: UInt64?) -> String { v.map { DisplayFormat.count($0) } ?? "-" }
            func b(_ v: UInt64?) -> String { v.map { DisplayFormat.bytes($0) } ?? "-" }
            let all = [name, n(r?.pagesSent), n(r?.sharedPagesSent), n(r?.pagesDirtied), n(r?.pagesResentForEncryption),
                       n(r?.pagesChangedState), n(p.observedStateChanges), b(r?.resyncBitmapBytes), b(r?.resyncRangeListBytes)]
            let cells = keep.map { all[$0] }
            x = 1
            for (c, w) in zip(cells, widths) { g.put(DisplayFormat.padLeft(c, w), in: rect, col: x, row: row); x += w + 1 }
            row += 1
        }
    }

    /// The words after " RAM " and the bar's width (0: no bar) for a panel `width` wide. "sent"
    /// counts every pass, so it passes guest RAM: it goes with what it means, and the bar goes
    /// before that explanation does.
    static func progressLine(_ p: MigrationProgress, fraction: Double, width: Int) -> (String, Int) {
        let pct = DisplayFormat.percent(fraction), total = DisplayFormat.bytes(p.ramTotalBytes)
        let left = DisplayFormat.bytes(p.ramRemainingBytes)
        let sent = "sent \(DisplayFormat.bytes(p.ramTransferredBytes)) " + (p.pass > 1 ? "in \(p.pass) passes" : "so far")
        let forms = [" \(pct)  left \(left) of \(total) RAM  \(sent)", " \(pct)  left \(left) of \(total)  \(sent)",
                     " \(pct) of \(total)  \(sent)"]
        func bar(_ text: String) -> Int { min(40, width - text.unicodeScalars.count - 7) }
        if let t = forms.first(where: { bar($0) >= 8 }) { return (t, bar(t)) }
        if let t = forms.first(where: { $0.unicodeScalars.count + 5 <= width }) { return (t, 0) }
        let short = " \(pct) of \(total), \(left) left"
        return (short, max(0, bar(short)))
    }

    static let passColumnNames = ["pass", "sent", "shared", "dirtied", "re-sent", "changed", "seen", "bitmap", "ranges"]
    static let passColumnWidths = [4, 8, 8, 8, 8, 8, 8, 8, 8]   // 77 columns with gaps: all fit 80
    /// Which columns survive a narrow panel, most telling first: the encryption re-sends and
    /// state changes are why the table exists; the resync cost columns go first.
    static let passColumnPriority = [0, 4, 5, 1, 3, 6, 2, 7, 8]

    /// Indices of the columns that fit `width`, in table order.
    static func passColumns(width: Int) -> [Int] {
        var used = 0, keep: [Int] = []
        for i in passColumnPriority {
            let w = passColumnWidths[i] + (keep.isEmpty ? 0 : 1)
            if used + w > width { break }
            used += w; keep.append(i)
        }
        return keep.sorted()
    }

    static func millis(_ s: Double) -> String {
        s < 1 ? ByteFormat.formatFixed(s * 1000, digits: 0) + " ms" : ByteFormat.formatFixed(s, digits: 2) + " s"
    }
}
