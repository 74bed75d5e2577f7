import MonitorCore

/// The rows of the shared-region table for one frame, in the chosen order, without touching
/// more regions than the frame needs:
/// - address order: row i is `region(at: i)`, O(log n) per visible row;
/// - other orders: a full sort while the map is small, a bounded top-k selection above
///   `fullSortLimit` (the title then says "top N");
/// - with an address filter: the regions around that address, sorted by the chosen key.
struct RegionTable {
    static let fullSortLimit = 10_000
    static let topKStep = 1_000
    static let topKMaximum = 10_000
    /// Regions either side of a filter address.
    static let filterNeighbours = 50

    private enum Rows {
        case address(SharedRegionMap)
        case list([SharedRegion])
    }

    private let rows: Rows
    let rowCount: Int
    /// "top 1000" when the rows are a selection of the largest/oldest/most flipped.
    let topK: Int?
    /// The filter address (bytes) and whether a region contains it.
    let filterAddress: UInt64?
    let filterError: String?
    /// Row of the region containing (or next after) the filter address.
    let filterRow: Int?

    func region(atRow i: Int) -> SharedRegion {
        switch rows {
        case .address(let m): m.region(at: i)
        case .list(let l): l[i]
        }
    }

    /// Builds the rows; `needed` is the number of rows the frame will look at (scroll + visible).
    init(snapshot: MonitorSnapshot, state: ViewState, needed: Int) {
        let map = snapshot.regions
        var address: UInt64?
        var error: String?
        if let f = state.filter {
            switch AddressFilter.parse(f) {
            case .success(let a): address = a
            case .failure(let e): error = e.description
            }
        }
        filterAddress = address
        filterError = error
        let key = state.sortKey, descending = state.sortDescending
        let flips = snapshot.flipIndex

        if let a = address {
            let page = a >> GuestPage.shift
            let i = map.index(ofFirstRegionEndingAfter: page)
            let lo = max(0, i - Self.filterNeighbours), hi = min(map.count, i + Self.filterNeighbours)
            var list = (lo..<hi).map { map.region(at: $0) }
            if key != .address || descending { list.sort(by: Self.ordering(key, descending, flips)) }
            rows = .list(list)
            rowCount = list.count
            topK = nil
            if i < map.count {
                let target = map.region(at: i).pages.lower
                filterRow = list.firstIndex { $0.pages.lower == target }
            } else {
                filterRow = list.isEmpty ? nil : list.count - 1
            }
            return
        }
        filterRow = nil
        let n = map.count
        if key == .address && !descending {
            rows = .address(map); rowCount = n; topK = nil
        } else if key == .address {
            // Descending address: still O(rows log n), indices counted from the end.
            let k = min(n, Self.topKLimit(needed))
            rows = .list((0..<k).map { map.region(at: n - 1 - $0) }); rowCount = k
            topK = nil
        } else if n <= Self.fullSortLimit {
            rows = .list(map.sorted(by: Self.ordering(key, descending, flips))); rowCount = n; topK = nil
        } else {
            let k = min(n, Self.topKLimit(needed))
            let top = Self.selectTop(map, k: k, by: Self.ordering(key, descending, flips))
            rows = .list(top); rowCount = top.count; topK = k
        }
    }

    /// Rows the table lets one scroll through for `needed` rows on screen.
    static func topKLimit(_ needed: Int) -> Int {
        min(topKMaximum, max(topKStep, (needed + topKStep - 1) / topKStep * topKStep))
    }

    /// Strict ordering: the chosen key, then address.
    static func ordering(_ key: RegionSortKey, _ descending: Bool, _ flips: FlipIndex) -> (SharedRegion, SharedRegion) -> Bool {
        func tie(_ a: SharedRegion, _ b: SharedRegion) -> Bool { a.pages.lower < b.pages.lower }
        switch key {
        case .address:
            return descending ? { $0.pages.lower > $1.pages.lower } : tie
        case .size:
            return { a, b in a.pages.count != b.pages.count ? (a.pages.count < b.pages.count) != descending : tie(a, b) }
        case .age:
            // Older regions have smaller stamps; "descending age" = oldest first.
            return { a, b in a.firstShared != b.firstShared ? (a.firstShared > b.firstShared) != descending : tie(a, b) }
        case .flips:
            return { a, b in
                let fa = flips.flips(in: a.pages), fb = flips.flips(in: b.pages)
                return fa != fb ? (fa < fb) != descending : tie(a, b)
            }
        }
    }

    /// The first `k` regions in `before` order, by a bounded max-heap over all regions:
    /// O(n log k) time, O(k) memory, no full sort.
    static func selectTop(_ map: SharedRegionMap, k: Int, by before: (SharedRegion, SharedRegion) -> Bool) -> [SharedRegion] {
        guard k > 0 else { return [] }
        // heap[0] is the worst of the kept k (the one every other kept region comes before).
        var heap: [SharedRegion] = []
        heap.reserveCapacity(k)
        func siftUp(_ i: Int) {
            var c = i
            while c > 0 {
                let p = (c - 1) / 2
                if before(heap[p], heap[c]) { heap.swapAt(p, c); c = p } else { break }
            }
        }
        func siftDown(_ i: Int) {
            var p = i
            while true {
                let l = 2 * p + 1, r = l + 1
                var w = p
                if l < heap.count && before(heap[w], heap[l]) { w = l }
                if r < heap.count && before(heap[w], heap[r]) { w = r }
                if w == p { return }
                heap.swapAt(p, w); p = w
            }
        }
        for r in map {
            if heap.count < k { heap.append(r); siftUp(heap.count - 1) }
            else if before(r, heap[0]) { heap[0] = r; siftDown(0) }
        }
        return heap.sorted(by: before)
    }

    /// Row of the region overlapping `pages` (the map cursor's cell), or the next one in address order.
    func row(near pages: PageRange, map: SharedRegionMap) -> Int? {
        switch rows {
        case .address:
            let i = map.index(ofFirstRegionEndingAfter: pages.lower)
            return i < rowCount ? i : (rowCount > 0 ? rowCount - 1 : nil)
        case .list(let l):
            return l.firstIndex { $0.pages.overlaps(pages) }
        }
    }

    /// The first visible row that keeps `selected` on screen, starting from `scroll`.
    static func scroll(_ scroll: Int, keeping selected: Int?, visible: Int, count: Int) -> Int {
        guard visible > 0, count > 0 else { return 0 }
        var s = max(0, min(scroll, count - visible))
        if let sel = selected {
            if sel < s { s = sel } else if sel >= s + visible { s = sel - visible + 1 }
        }
        return max(0, min(s, max(0, count - visible)))
    }
}
