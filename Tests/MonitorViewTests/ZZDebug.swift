import Testing
import MonitorCore
@testable import MonitorView
@Suite struct ZZDebug {
    @Test func dbg() {
        let s = LargeMapTests.snapshot
        for key in [RegionSortKey.size, .age, .flips] {
            for d in [true, false] {
                var st = ViewState(); st.sortKey = key; st.sortDescending = d
                let t = RegionTable(snapshot: s, state: st, needed: 80)
                print("key", key, d, t.rowCount, t.loadedRows)
            }
        }
        let top = RegionTable.selectTop(s.regions, k: 80, rank: FlipsRank(descending: true, index: s.flipIndex))
        print("flips", top.count)
    }
}
