import Testing
import MonitorCore
@testable import MonitorView

/// A fragmented guest: 100k regions over 1 TiB. Frames must not walk every region.
@Suite struct LargeMapTests {
    static let snapshot: MonitorSnapshot = {
        var m = Monitor()
        let tib: UInt64 = 1 << 28  // pages per TiB
        m.apply(.layout(GuestLayout(time: 0, ranges: [GuestLayoutRange(pages: PageRange(lower: 0, upper: tib), kind: .ram, name: "RAM")])))
        let stride = tib / 100_000
        for i in 0..<100_000 as Range<UInt64> {
            m.apply(.conversion(Conversion(time: Double(i) / 10_000, pages: PageRange(first: i * stride, count: 1 + i % 7),
                                           direction: .toShared, path: .simulator)))
        }
        return m.snapshot()
    }()

    @Test func rendersAllSortsAndZoomLevels() {
        let s = Self.snapshot
        #expect(s.regions.count == 100_000)
        for key in RegionSortKey.allCases {
            var st = ViewState(); st.sortKey = key; st.sortDescending = key != .address; st.focus = .regions
            st.tableSelection = 50_000; st.tableScroll = 49_990
            let g = Screen.render(s, source: Fixtures.replay, state: st, width: 250, height: 80)
            #expect(g.text.contains("Shared regions 100k"))
            if key == .address { #expect(g.text.contains("0x") && !g.text.contains("top ")) }
            else { #expect(g.text.contains("top ")) }
        }
        var z = ViewState()
        for _ in 0..<30 { z.apply(.zoomIn, snapshot: s, width: 250, height: 80) }
        #expect(Screen.render(s, source: Fixtures.replay, state: z, width: 250, height: 80).width == 250)
    }

    @Test func topKMatchesAFullSort() {
        let s = Self.snapshot
        for key in [RegionSortKey.size, .age, .flips] {
            for descending in [true, false] {
                let full = s.regions.sorted(by: RegionTable.ordering(key, descending, s.flipIndex))
                for k in [1, 80, 500, 3_000] {
                    var st = ViewState(); st.sortKey = key; st.sortDescending = descending
                    let t = RegionTable(snapshot: s, state: st, needed: k)
                    #expect(t.rowCount == RegionTable.topKMaximum && t.loadedRows == k)
                    let top = (0..<t.loadedRows).map { t.region(atRow: $0) }
                    #expect(top == Array(full.prefix(k)), "\(key) \(descending ? "desc" : "asc") k \(k)")
                }
            }
        }
    }

    @Test func addressSortScrollsToTheEnd() {
        var st = ViewState(); st.focus = .regions
        st.apply(.end, snapshot: Self.snapshot, width: 120, height: 40)
        #expect(st.tableSelection == 99_999)
        let text = Screen.text(Self.snapshot, source: Fixtures.replay, state: st, width: 120, height: 40)
        let last = Self.snapshot.regions.region(at: 99_999)
        #expect(text.contains(Hex.address(last.pages.lower << GuestPage.shift)))
    }
}
