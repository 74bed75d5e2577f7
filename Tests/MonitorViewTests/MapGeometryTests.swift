import Testing
@testable import MonitorCore
@testable import MonitorView

/// Cells are a power-of-two number of pages on multiples of that size; the window decides which
/// pages they hold.
@Suite struct MapGeometryTests {
    @Test func cellsAreRoundAndCoverTheWindowExactly() {
        var rng = SplitMix64(seed: 0x6e0)
        for _ in 0..<500 {
            let lower = UInt64.random(in: 0..<(1 << 30), using: &rng)
            let window = PageRange(first: lower, count: UInt64.random(in: 1..<(1 << 28), using: &rng))
            let columns = Int.random(in: 1...200, using: &rng), rows = Int.random(in: 1...60, using: &rng)
            let g = MapGeometry(window: window, x: 12, y: 3, columns: columns, rows: rows, labelWidth: 12)
            #expect(g.pagesPerCell & (g.pagesPerCell - 1) == 0)
            #expect(g.cellCount >= 1 && g.cellCount <= columns * rows)
            // The smallest such size: half of it would not fit.
            if g.pagesPerCell > 1 {
                let half = g.pagesPerCell / 2
                #expect((window.upper - window.lower / half * half + half - 1) / half > UInt64(columns * rows))
            }
            #expect(g.pages(ofCell: 0).lower == window.lower)
            #expect(g.pages(ofCell: g.cellCount - 1).upper == window.upper)
            for r in 0..<g.usedRows { #expect(g.rowStart(r) % g.pagesPerCell == 0) }
            let i = Int.random(in: 0..<g.cellCount, using: &rng)
            let p = g.pages(ofCell: i)
            #expect(!p.isEmpty && g.cell(containing: p.lower) == i && g.cell(containing: p.upper - 1) == i)
            if i > 0 { #expect(p.lower % g.pagesPerCell == 0) }
        }
    }

    @Test func sharedPerCellMatchesOneQueryPerCell() {
        var map = SharedRegionMap()
        var rng = SplitMix64(seed: 0x6e0)
        for _ in 0..<2_000 {
            map.markShared(PageRange(first: UInt64.random(in: 0..<(1 << 24), using: &rng), count: UInt64.random(in: 1...5_000, using: &rng)), stamp: 1)
        }
        for (lower, count) in [(0, 1 << 24), (12_345, 1_000_001), (7, 3), (1 << 20, 1)] as [(UInt64, UInt64)] {
            let g = MapGeometry(window: PageRange(first: lower, count: count), x: 0, y: 0, columns: 97, rows: 13, labelWidth: 0)
            let naive = (0..<g.cellCount).map { map.sharedPages(in: g.pages(ofCell: $0)) }
            #expect(g.sharedPerCell(map) == naive, "window \(lower)+\(count)")
        }
    }

    @Test func rowLabelsAreRoundAddresses() {
        let snapshot = Fixtures.migratingMonitor().snapshot()
        let text = Screen.text(snapshot, source: Fixtures.replay, state: Fixtures.state { $0.charset = .ascii }, width: 120, height: 40)
        #expect(text.contains("cell = 4.00 MiB"))
        let lines = text.split(separator: "\n")
        let map = lines.drop { !$0.contains("Memory map") }.dropFirst().prefix { !$0.hasPrefix("cursor") }
        let labels = map.compactMap { line -> UInt64? in
            let t = line.drop { $0 == " " }
            guard t.hasPrefix("0x"), let end = t.firstIndex(of: " ") else { return nil }
            return UInt64(t[t.index(t.startIndex, offsetBy: 2)..<end], radix: 16)
        }
        #expect(labels.count >= 10)
        #expect(labels.allSatisfy { $0 % (4 << 20) == 0 })
    }

    @Test func zoomHalvesAndDoublesTheCellSize() throws {
        let snapshot = Fixtures.bootedMonitor().snapshot()
        var s = ViewState()
        func geometry() throws -> MapGeometry {
            try #require(ScreenLayout.compute(width: 80, height: 24, snapshot: snapshot, state: s).mapGeometry)
        }
        let whole = try geometry()
        s.mapCursor = whole.cellCount / 3
        s.apply(.zoomIn, snapshot: snapshot, width: 80, height: 24)
        let zoomed = try geometry()
        #expect(zoomed.window.count == whole.window.count / 2)
        #expect(zoomed.pagesPerCell == whole.pagesPerCell / 2)
        s.apply(.zoomOut, snapshot: snapshot, width: 80, height: 24)
        #expect(s.mapWindow == nil)
        #expect(try geometry() == whole)
    }

    @Test func unusedMapRowsGoToThePanelsBelow() throws {
        let snapshot = Fixtures.migratingMonitor().snapshot()
        let l = ScreenLayout.compute(width: 80, height: 24, snapshot: snapshot, state: ViewState())
        let map = try #require(l.map), g = try #require(l.mapGeometry)
        #expect(map.height == 2 + g.usedRows)
        let used = ScreenLayout.Panel.allCases.compactMap { l.rect(of: $0) }.reduce(0) { $0 + $1.height }
        #expect(used == 24)
    }
}
