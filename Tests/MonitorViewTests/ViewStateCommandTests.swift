import Testing
import MonitorCore
@testable import MonitorView

/// The key table and `ViewState.apply`: sort, zoom, filter, cursor and page bounds, clicks.
@Suite struct ViewStateCommandTests {
    let snapshot = Fixtures.bootedMonitor().snapshot()
    let w = 80, h = 24

    func applying(_ cmds: [ViewCommand], to start: ViewState = ViewState()) -> ViewState {
        var s = start
        for c in cmds { s.apply(c, snapshot: snapshot, width: w, height: h) }
        return s
    }

    @Test func keyTable() {
        let s = ViewState()
        #expect(Screen.command(for: .character("q"), state: s) == .quit)
        #expect(Screen.command(for: .character("?"), state: s) == .toggleHelp)
        #expect(Screen.command(for: .character("h"), state: s) == .toggleHelp)
        #expect(Screen.command(for: .character(" "), state: s) == .togglePause)
        #expect(Screen.command(for: .character("p"), state: s) == .togglePause)
        #expect(Screen.command(for: .tab, state: s) == .cycleFocus(forward: true))
        #expect(Screen.command(for: .backTab, state: s) == .cycleFocus(forward: false))
        #expect(Screen.command(for: .character("s"), state: s) == .cycleSort)
        #expect(Screen.command(for: .character("I"), state: s) == .invertSort)
        #expect(Screen.command(for: .character("/"), state: s) == .beginFilter)
        #expect(Screen.command(for: .character("r"), state: s) == .resetRates)
        #expect(Screen.command(for: .character(">"), state: s) == .faster)
        #expect(Screen.command(for: .character("<"), state: s) == .slower)
        #expect(Screen.command(for: .character("n"), state: s) == .stepOnce)
        #expect(Screen.command(for: .character("+"), state: s) == .zoomIn)
        #expect(Screen.command(for: .character("-"), state: s) == .zoomOut)
        #expect(Screen.command(for: .up, state: s) == .move(dx: 0, dy: -1))
        #expect(Screen.command(for: .pageDown, state: s) == .page(1))
        #expect(Screen.command(for: .home, state: s) == .home)
        #expect(Screen.command(for: .mouseClick(x: 3, y: 4), state: s) == .click(x: 3, y: 4))
        #expect(Screen.command(for: .resize, state: s) == nil)
        #expect(Screen.command(for: .character("z"), state: s) == nil)
        // While typing a filter, characters are text (q does not quit).
        var typing = s; typing.filterDraft = ""
        #expect(Screen.command(for: .character("q"), state: typing) == .filterInput("q"))
        #expect(Screen.command(for: .backspace, state: typing) == .filterBackspace)
        #expect(Screen.command(for: .enter, state: typing) == .filterCommit)
        #expect(Screen.command(for: .escape, state: typing) == .filterCancel)
        var help = s; help.showHelp = true
        #expect(Screen.command(for: .escape, state: help) == .toggleHelp)
    }

    @Test func sourceCommandsLeaveStateAlone() {
        let s = applying([.quit, .togglePause, .stepOnce, .faster, .slower, .resetRates])
        #expect(s.paused == false && s.speed == nil && s.mapCursor == 0)
    }

    @Test func sortCyclesAndInverts() {
        var s = ViewState()
        var seen: [(RegionSortKey, Bool)] = []
        for _ in 0..<4 { s = applying([.cycleSort], to: s); seen.append((s.sortKey, s.sortDescending)) }
        #expect(seen.map(\.0) == [.size, .age, .flips, .address])
        #expect(seen.map(\.1) == [true, true, true, false])
        s = applying([.invertSort], to: s)
        #expect(s.sortDescending)
        let text = Screen.text(snapshot, source: Fixtures.replay, state: applying([.cycleSort], to: ViewState()), width: 80, height: 24)
        #expect(text.contains("by size▼"))
        #expect(text.contains("size▼"))
    }

    @Test func sortBySizeOrdersRows() {
        var st = ViewState(); st.charset = .ascii
        st = applying([.cycleSort], to: st)
        let t = RegionTable(snapshot: snapshot, state: st, needed: 10)
        let sizes = (0..<t.rowCount).map { t.region(atRow: $0).pages.count }
        #expect(sizes == sizes.sorted(by: >))
        st.sortDescending = false
        let u = RegionTable(snapshot: snapshot, state: st, needed: 10)
        #expect((0..<u.rowCount).map { u.region(atRow: $0).pages.count } == sizes.reversed())
    }

    @Test func zoomAroundCursorClampsToSpan() throws {
        let span = snapshot.guestSpan
        var s = ViewState()
        let geo0 = try #require(ScreenLayout.compute(width: w, height: h, snapshot: snapshot, state: s).mapGeometry)
        s.mapCursor = geo0.cellCount / 2
        let page = geo0.pages(ofCell: s.mapCursor)
        let center = page.lower + page.count / 2
        s = applying([.zoomIn], to: s)
        let win = try #require(s.mapWindow)
        #expect(win.count == span.count / 2)
        #expect(win.contains(center))
        let geo1 = try #require(ScreenLayout.compute(width: w, height: h, snapshot: snapshot, state: s).mapGeometry)
        #expect(geo1.pages(ofCell: s.mapCursor).contains(center))
        // Zooming in forever stops at one page per cell; out again returns to the whole span.
        for _ in 0..<60 { s = applying([.zoomIn], to: s) }
        let geoMax = try #require(ScreenLayout.compute(width: w, height: h, snapshot: snapshot, state: s).mapGeometry)
        #expect(geoMax.pagesPerCell == 1)
        #expect(s.mapWindow!.lower >= span.lower && s.mapWindow!.upper <= span.upper)
        for _ in 0..<60 { s = applying([.zoomOut], to: s) }
        #expect(s.mapWindow == nil)
        // Zoom at the very end of the span stays inside it.
        var e = applying([.end])
        e = applying([.zoomIn, .zoomIn], to: e)
        #expect(e.mapWindow!.upper == span.upper)
    }

    @Test func cursorMovesWithinBoundsAndPansWhenZoomed() throws {
        var s = applying([.move(dx: -1, dy: 0), .move(dx: 0, dy: -5)])
        #expect(s.mapCursor == 0)
        let geo = try #require(ScreenLayout.compute(width: w, height: h, snapshot: snapshot, state: s).mapGeometry)
        s = applying([.end], to: s)
        #expect(s.mapCursor == geo.cellCount - 1)
        s = applying([.move(dx: 1, dy: 0), .page(3)], to: s)
        #expect(s.mapCursor == geo.cellCount - 1)
        s = applying([.move(dx: 0, dy: -1)], to: s)
        #expect(s.mapCursor == geo.cellCount - 1 - geo.columns)
        // Zoomed: moving past the bottom pans the window down by a row.
        var z = applying([.zoomIn, .zoomIn])
        let before = try #require(z.mapWindow)
        let zgeo = try #require(ScreenLayout.compute(width: w, height: h, snapshot: snapshot, state: z).mapGeometry)
        z.mapCursor = zgeo.cellCount - 1
        z = applying([.move(dx: 0, dy: 1)], to: z)
        let after = try #require(z.mapWindow)
        #expect(after.lower == before.lower + zgeo.pagesPerRow || after.upper == snapshot.guestSpan.upper)
        #expect(after.count == before.count)
        z = applying([.home], to: z)
        #expect(z.mapWindow?.lower == snapshot.guestSpan.lower && z.mapCursor == 0)
    }

    @Test func tableMovementIsBounded() {
        var s = applying([.cycleFocus(forward: true)])
        #expect(s.focus == .regions)
        s = applying([.move(dx: 0, dy: -3)], to: s)
        #expect(s.tableSelection == 0)
        s = applying([.page(5)], to: s)
        #expect(s.tableSelection == snapshot.regions.count - 1)
        s = applying([.home], to: s)
        #expect(s.tableSelection == 0 && s.tableScroll == 0)
        s = applying([.end, .move(dx: 0, dy: 1)], to: s)
        #expect(s.tableSelection == snapshot.regions.count - 1)
        s = applying([.cycleFocus(forward: false)], to: s)
        #expect(s.focus == .map)
    }

    @Test func tableFollowsMapCursor() throws {
        let geo = try #require(ScreenLayout.compute(width: w, height: h, snapshot: snapshot, state: ViewState()).mapGeometry)
        var s = ViewState()
        s.mapCursor = try #require(geo.cell(containing: 2 * Fixtures.gib + 4 * Fixtures.mib))
        let f = Frame(snapshot: snapshot, state: s, width: w, height: h)
        let row = try #require(f.selection)
        #expect(f.table!.region(atRow: row).pages.overlaps(geo.pages(ofCell: s.mapCursor)))
        // Tab to the table keeps that row selected.
        s = applying([.cycleFocus(forward: true)], to: s)
        #expect(s.tableSelection == row)
    }

    @Test func filterParsing() {
        func ok(_ t: String) -> UInt64? { if case .success(let v) = AddressFilter.parse(t) { v } else { nil } }
        #expect(ok("0x1f000000") == 0x1f00_0000)
        #expect(ok("1f000000") == 0x1f00_0000)
        #expect(ok("0X1F000000") == 0x1f00_0000)
        #expect(ok("4096") == 4096)
        #expect(ok("4G") == 4 << 30)
        #expect(ok("4gib") == 4 << 30)
        #expect(ok("16M") == 16 << 20)
        #expect(ok("64k") == 64 << 10)
        #expect(ok("0x10M") == 16 << 20)
        #expect(ok(" 0x1000_0000 ") == 0x1000_0000)
        #expect(ok("0x1b") == 0x1b)
        #expect(ok("") == nil)
        #expect(ok("0x") == nil)
        #expect(ok("zz") == nil)
        #expect(ok("12q") == nil)
        #expect(ok("-5") == nil)
        #expect(ok("0xffffffffffffffffff") == nil)
        #expect(ok("99999999999T") == nil)
        #expect(ok("G") == nil)
    }

    @Test func filterTypingCommitAndCancel() {
        var s = applying([.beginFilter] + "0x80000000".map { .filterInput($0) } + [.filterCommit])
        #expect(s.filter == "0x80000000" && s.filterDraft == nil && s.filterError == nil)
        #expect(s.focus == .regions)
        let t = RegionTable(snapshot: snapshot, state: s, needed: 10)
        #expect(t.rowCount == 1 && t.region(atRow: 0).pages.contains(0x80000))
        let text = Screen.text(snapshot, source: Fixtures.replay, state: s, width: 80, height: 24)
        #expect(text.contains("/ 0x80000000: 1 match"), "\(text)")
        // Invalid input: inline error, typing continues, the old filter stays.
        s = applying([.beginFilter, .filterInput("x"), .filterInput("y"), .filterCommit], to: s)
        #expect(s.filterDraft == "xy" && s.filterError != nil && s.filter == "0x80000000")
        let shown = Screen.text(snapshot, source: Fixtures.replay, state: s, width: 120, height: 30)
        #expect(shown.contains("'xy' is not an address"))
        s = applying([.filterBackspace, .filterBackspace, .filterBackspace], to: s)
        #expect(s.filterDraft == "" && s.filterError == nil)
        s = applying([.filterCancel], to: s)
        #expect(s.filterDraft == nil && s.filter == "0x80000000")
        // Empty commit clears; Esc outside typing clears too.
        #expect(applying([.beginFilter, .filterCommit], to: s).filter == nil)
        #expect(applying([.filterCancel], to: s).filter == nil)
        // An address in no region lists nothing, and says how to get the list back.
        let miss = applying([.beginFilter] + "3G".map { .filterInput($0) } + [.filterCommit])
        #expect(Screen.text(snapshot, source: Fixtures.replay, state: miss, width: 80, height: 24).contains("no region matches the filter"))
    }

    /// `/` filters by range, size and flips (all terms must hold); the rows are exactly the
    /// regions a per-region check admits, in the chosen order.
    @Test func filterByRangeSizeAndFlips() {
        func rows(_ text: String, sort: RegionSortKey = .address) -> [UInt64] {
            var s = applying([.beginFilter] + text.map { .filterInput($0) } + [.filterCommit])
            s.sortKey = sort; s.sortDescending = sort != .address
            #expect(s.filter == text, "\(text): \(s.filterError ?? "")")
            let t = RegionTable(snapshot: snapshot, state: s, needed: 100)
            return (0..<t.rowCount).map { t.region(atRow: $0).pages.lower << GuestPage.shift }
        }
        #expect(rows("1G-2G") == [0x4000_0000, 0x4110_0000])
        #expect(rows("size>1M") == [0x4000_0000, 0x4110_0000])
        #expect(rows("size>1M", sort: .size) == [0x4110_0000, 0x4000_0000])
        #expect(rows("size>=1M") == [0x4000_0000, 0x4110_0000, 0x8040_0000])
        #expect(rows("0-4G size<1M") == [0x8000_0000])
        #expect(rows("flips>=0 size<=16K") == [0x1_0006_4000])
        #expect(rows("flips>0").isEmpty)   // the flipping buffer is private again
        for bad in ["size", "size>", "flips>x", "5G-4G", "nope>3"] {
            if case .success = RegionFilter.parse(bad) { Issue.record("'\(bad)' should not parse") }
        }
    }

    /// `g` jumps: address order, the row holding the address, the map cursor on its cell.
    @Test func jumpIsItsOwnKey() throws {
        #expect(Screen.command(for: .character("g"), state: ViewState()) == .beginJump)
        var start = ViewState(); start.sortKey = .size; start.sortDescending = true
        let s = applying([.beginJump] + "0x80400010".map { .filterInput($0) } + [.filterCommit], to: start)
        #expect(s.filter == nil && s.filterDraft == nil && s.sortKey == .address && !s.sortDescending)
        #expect(s.focus == .regions && s.tableSelection == 3)
        let g = try #require(ScreenLayout.compute(width: w, height: h, snapshot: snapshot, state: s).mapGeometry)
        #expect(g.pages(ofCell: s.mapCursor).contains(0x80400))
        let bad = applying([.beginJump, .filterInput("z"), .filterCommit])
        #expect(bad.filterDraft == "z" && bad.filterError != nil)
    }

    @Test func clickSelectsMapCellAndTableRow() throws {
        let l = ScreenLayout.compute(width: w, height: h, snapshot: snapshot, state: ViewState())
        let geo = try #require(l.mapGeometry)
        var s = applying([.click(x: geo.x + 7, y: geo.y + 1)])
        #expect(s.focus == .map && s.mapCursor == geo.columns + 7)
        let r = try #require(l.regions)
        s = applying([.click(x: r.x + 5, y: r.y + 3)], to: s)
        #expect(s.focus == .regions && s.tableSelection == 1)
        // Clicks on titles or outside do nothing; a click closes help.
        let before = s
        s = applying([.click(x: r.x + 5, y: r.y)], to: s)
        #expect(s.tableSelection == before.tableSelection && s.focus == before.focus)
        var help = s; help.showHelp = true
        #expect(applying([.click(x: 1, y: 1)], to: help).showHelp == false)
    }
}
