import Testing
import MonitorCore
@testable import MonitorView

/// Properties every frame must have whatever the size, charset or colour mode.
@Suite struct RenderPropertyTests {
    let snapshot = Fixtures.migratingMonitor().snapshot()

    @Test func asciiCharsetWritesOnlyASCII() {
        var st = ViewState(); st.charset = .ascii; st.showHelp = false
        for (w, h) in [(80, 24), (120, 40), (250, 80), (40, 10)] {
            let g = Screen.render(snapshot, source: Fixtures.replay, state: st, width: w, height: h)
            #expect(g.cells.allSatisfy { $0.scalar.isASCII }, "non-ASCII at \(w)x\(h)")
        }
        st.showHelp = true
        #expect(Screen.render(snapshot, source: Fixtures.replay, state: st, width: 80, height: 24).cells.allSatisfy { $0.scalar.isASCII })
        #expect(BatchReport.render(snapshot: snapshot, source: Fixtures.replay, width: 90).unicodeScalars.allSatisfy { $0.isASCII })
    }

    @Test func unicodeCharsetUsesBlocks() {
        let g = Screen.render(snapshot, source: Fixtures.replay, state: ViewState(), width: 120, height: 40)
        #expect(g.text.contains("█") || g.text.contains("▓"))
        #expect(g.text.contains("╌"))  // the MMIO hole
    }

    @Test func monochromeHasNoColours() {
        var st = ViewState(); st.color = false
        for help in [false, true] {
            st.showHelp = help
            let g = Screen.render(snapshot, source: Fixtures.replay, state: st, width: 120, height: 40)
            #expect(g.cells.allSatisfy { $0.style.foreground == nil && $0.style.background == nil })
            // Still distinguishable: the cursor is reverse, titles are reverse.
            #expect(g.cells.contains { $0.style.reverse })
        }
        let coloured = Screen.render(snapshot, source: Fixtures.replay, state: ViewState(), width: 120, height: 40)
        #expect(coloured.cells.contains { $0.style.foreground != nil })
    }

    @Test func tinyAndOddSizesNeverCrash() {
        var states: [ViewState] = [ViewState()]
        var s2 = ViewState(); s2.showHelp = true; s2.focus = .regions; s2.filterDraft = "0x4"; s2.charset = .ascii
        states.append(s2)
        var s3 = ViewState(); s3.mapWindow = PageRange(lower: 1 << 18, upper: (1 << 18) + 512); s3.mapCursor = 10_000; s3.tableSelection = 99
        states.append(s3)
        for st in states {
            for w in stride(from: 0, through: 130, by: 7) {
                for h in stride(from: 0, through: 45, by: 3) {
                    let g = Screen.render(snapshot, source: Fixtures.replay, state: st, width: w, height: h)
                    #expect(g.width == w && g.height == h)
                    var t = st
                    for c in [ViewCommand.move(dx: 1, dy: 1), .zoomIn, .page(1), .end, .click(x: w / 2, y: h / 2), .zoomOut, .home] {
                        t.apply(c, snapshot: snapshot, width: w, height: h)
                    }
                }
            }
        }
        // Negative sizes are clamped by the grid.
        #expect(Screen.render(snapshot, source: Fixtures.replay, state: ViewState(), width: -3, height: -1).cells.isEmpty)
    }

    @Test func tooSmallSaysSo() {
        #expect(Screen.text(snapshot, source: Fixtures.replay, state: ViewState(), width: 60, height: 3).hasPrefix("terminal too small"))
        #expect(Screen.text(snapshot, source: Fixtures.replay, state: ViewState(), width: 1, height: 1) == "t")
    }

    @Test func everyPanelFitsAt80x24() {
        let l = ScreenLayout.compute(width: 80, height: 24, snapshot: snapshot, state: ViewState())
        #expect(!l.tooSmall)
        for p in ScreenLayout.Panel.allCases { #expect(l.rect(of: p) != nil, "\(p) missing at 80x24") }
        // Rectangles stay inside the screen and do not overlap.
        let rects = ScreenLayout.Panel.allCases.compactMap { l.rect(of: $0) }
        for r in rects { #expect(r.x >= 0 && r.y >= 0 && r.maxX <= 80 && r.maxY <= 24) }
        for (i, a) in rects.enumerated() {
            for b in rects[(i + 1)...] {
                #expect(a.maxX <= b.x || b.maxX <= a.x || a.maxY <= b.y || b.maxY <= a.y, "\(a) overlaps \(b)")
            }
        }
    }

    @Test func panelsDropInOrder() {
        func has(_ h: Int) -> ScreenLayout { ScreenLayout.compute(width: 80, height: h, snapshot: snapshot, state: ViewState()) }
        let small = has(14)
        #expect(small.map != nil && small.regions != nil)
        #expect(small.cost == nil)
        let smaller = has(7)
        #expect(smaller.map != nil && smaller.rates == nil && smaller.cost == nil)
    }

    @Test func recentChangesAreHighlighted() {
        var m = Fixtures.bootedMonitor()
        m.apply(Fixtures.conversion(9.9, 3, 1))  // fresh change at the first cell
        let g = Screen.render(m.snapshot(), source: Fixtures.replay, state: ViewState(), width: 80, height: 24)
        let l = ScreenLayout.compute(width: 80, height: 24, snapshot: m.snapshot(), state: ViewState())
        let geo = try! #require(l.mapGeometry)
        // The cursor sits on cell 0 too; move it away to see the highlight.
        var st = ViewState(); st.mapCursor = 5
        let g2 = Screen.render(m.snapshot(), source: Fixtures.replay, state: st, width: 80, height: 24)
        let cell = g2[geo.x, geo.y]
        #expect(cell.style.foreground == .magenta && cell.style.bold)
        #expect(g[geo.x, geo.y].style.reverse)
    }
}
