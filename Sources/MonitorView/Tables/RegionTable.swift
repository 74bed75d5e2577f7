import MonitorCore

/// The rows of the shared-region table for one frame, in the chosen order, without touching
/// more regions than the frame needs:
/// - address order (either direction): row i is `region(at:)`, O(log n) per visible row;
/// - largest first and oldest first (descending size and age), for up to `n / treeSearchRatio`
///   rows: the map's top-k queries, which read O(k log n) tree nodes for k rows;
/// - other orders: one pass over the map that keeps only the first `needed` rows (a bounded
///   selection, see `selectTop`); above `fullSortLimit` regions the table scrolls through the
///   first `topKMaximum` rows only (the title then says "top N");
/// - with a `/` filter (`RegionFilter`): the matching regions (at most `topKMaximum`), sorted
///   by the chosen key.
struct RegionTable {
    static let fullSortLimit = 10_000
    static let topKMaximum = 10_000
    /// The map's top-k search costs about 1.5 µs a row (a heap push for every entry of each node
    /// it opens), a pass over the map about 10 ns a region: the search wins below n/128 rows.
    static let treeSearchRatio = 128

    private enum Rows {
        case address(SharedRegionMap)
        case addressDescending(SharedRegionMap)
        /// The first rows of the order; rows past the list are not loaded this frame.
        case list([SharedRegion])
    }

    private let rows: Rows
    /// Rows one can scroll through (not all of them are loaded: see `loadedRows`).
    let rowCount: Int
    /// Rows `region(atRow:)` can return: the first `needed` rows at least, or all of them.
    let loadedRows: Int
    /// "top 10000" when the rows are a selection of the largest/oldest/most flipped.
    let topK: Int?
    /// The parsed `/` filter, or why its text does not parse.
    let filter: RegionFilter?
    let filterError: String?
    /// True when the filter matched more regions than `topKMaximum` (the rest are not listed).
    let filterCapped: Bool

    /// Row `i < loadedRows`.
    func region(atRow i: Int) -> SharedRegion {
        switch rows {
        case .address(let m): m.region(at: i)
        case .addressDescending(let m): m.region(at: m.count - 1 - i)
        case .list(let l): l[i]
        }
    }

    /// Builds the rows; `needed` is the number of rows the frame will look at (first visible row
    /// or selection, whichever is further, plus the visible rows).
    init(snapshot: MonitorSnapshot, state: ViewState, needed: Int) {
        let map = snapshot.regions
        var parsed: RegionFilter?
        var error: String?
        if let f = state.filter {
            switch RegionFilter.parse(f) {
            case .success(let r): parsed = r
            case .failure(let e): error = e.description
            }
        }
        filter = parsed
        filterError = error
        let key = state.sortKey, descending = state.sortDescending

        if let f = parsed {
            let (list, capped) = Self.matches(f, in: map, flipIndex: snapshot.flipIndex)
            var sorted = list
            if key != .address || descending { sorted.sort(by: Self.ordering(key, descending, snapshot.flipIndex)) }
            rows = .list(sorted)
            rowCount = sorted.count; loadedRows = sorted.count
            topK = nil
            filterCapped = capped
            return
        }
        filterCapped = false
        let n = map.count
        if key == .address {
            rows = descending ? .addressDescending(map) : .address(map)
            rowCount = n; loadedRows = n; topK = nil
            return
        }
        rowCount = n <= Self.fullSortLimit ? n : min(n, Self.topKMaximum)
        topK = n <= Self.fullSortLimit ? nil : rowCount
        let k = min(rowCount, max(1, needed))
        let top: [SharedRegion]
        let treeSearch = descending && k <= n / Self.treeSearchRatio
        switch key {
        case .size where treeSearch: top = map.largestRegions(k)
        // Descending age is oldest first: the smallest `firstShared` stamps.
        case .age where treeSearch: top = map.oldestRegions(k)
        case .size: top = Self.selectTop(map, k: k, rank: SizeRank(descending: descending))
        case .age: top = Self.selectTop(map, k: k, rank: AgeRank(descending: descending))
        case .flips: top = Self.selectTop(map, k: k, rank: FlipsRank(descending: descending, index: snapshot.flipIndex))
        case .address: top = []  // returned above
        }
        rows = .list(top)
        loadedRows = top.count
    }

    /// The regions `f` admits, in address order, at most `topKMaximum`: an address term reads
    /// only the regions in its range (O(log n + k)); other terms scan the map once (O(n)).
    static func matches(_ f: RegionFilter, in map: SharedRegionMap, flipIndex: FlipIndex) -> (regions: [SharedRegion], capped: Bool) {
        var out: [SharedRegion] = []
        if let p = f.pages {
            var i = map.index(ofFirstRegionEndingAfter: p.lower)
            while i < map.count {
                let r = map.region(at: i)
                if r.pages.lower >= p.upper { break }
                if f.admits(r, flipIndex: flipIndex) {
                    if out.count == topKMaximum { return (out, true) }
                    out.append(r)
                }
                i += 1
            }
            return (out, false)
        }
        for r in map where f.admits(r, flipIndex: flipIndex) {
            if out.count == topKMaximum { return (out, true) }
            out.append(r)
        }
        return (out, false)
    }

    /// The row of the first region ending after `page` (the one holding it, or the next), or
    /// the last row; 0 for an empty table.
    func row(atOrAfter page: UInt64) -> Int {
        guard rowCount > 0 else { return 0 }
        switch rows {
        case .address(let m): return min(m.index(ofFirstRegionEndingAfter: page), rowCount - 1)
        case .addressDescending: return 0
        case .list(let l): return l.firstIndex { $0.pages.upper > page } ?? rowCount - 1
        }
    }

    /// Strict ordering: the chosen key, then address. The reference for the ranks below (and
    /// the sort of the few rows around a filter address).
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

    /// The first `k` regions in `rank` order (ties to the lower address), in one pass over the
    /// map: O(n) time on any input, O(k) memory, then O(k log n) to fetch the winners.
    ///
    /// The pass visits regions in address order, so a region whose rank is not below the worst
    /// kept one can never make the cut (it would lose the tie on address) and costs one
    /// comparison. Those that might are appended (rank and position) to a buffer of `4k`; when
    /// it fills, a quickselect keeps the best `k` and tightens the bound. Unlike a heap, a pass
    /// whose ranks keep improving (youngest first over regions shared in address order) stays
    /// linear.
    static func selectTop<R: RegionRank>(_ map: SharedRegionMap, k: Int, rank: R) -> [SharedRegion] {
        guard k > 0, !map.isEmpty else { return [] }
        var rank = rank
        let capacity = max(4 * k, 256)
        var buffer: [RankedRow] = []
        buffer.reserveCapacity(capacity)
        // Once the buffer has filled, every candidate must rank below `bound`; it only decreases.
        var bound = UInt64.max, full = false
        var index = 0
        for r in map {
            defer { index += 1 }
            let v = rank.rank(r, below: bound)
            if full && v >= bound {
                // No region ranks below the floor: nothing after this one can win.
                if bound <= rank.floor { break }
                continue
            }
            buffer.append(RankedRow(rank: v, index: index))
            if buffer.count == capacity {
                buffer.withUnsafeMutableBufferPointer { Self.partition(firstK: k, of: $0) }
                buffer.removeLast(capacity - k)
                bound = buffer.reduce(0) { max($0, $1.rank) }
                full = true
            }
        }
        if buffer.count > k {
            buffer.withUnsafeMutableBufferPointer { Self.partition(firstK: k, of: $0) }
            buffer.removeLast(buffer.count - k)
        }
        buffer.sort { $0.precedes($1) }
        return buffer.map { map.region(at: $0.index) }
    }

    /// Reorders `b` so that its first `k` elements are the `k` smallest (in any order).
    /// Quickselect with a median-of-three pivot: O(count) expected.
    static func partition(firstK k: Int, of b: UnsafeMutableBufferPointer<RankedRow>) {
        var lo = 0, hi = b.count - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if b[mid].precedes(b[lo]) { b.swapAt(mid, lo) }
            if b[hi].precedes(b[lo]) { b.swapAt(hi, lo) }
            if b[hi].precedes(b[mid]) { b.swapAt(hi, mid) }
            let pivot = b[mid]
            var i = lo, j = hi
            while i <= j {
                while b[i].precedes(pivot) { i += 1 }
                while pivot.precedes(b[j]) { j -= 1 }
                if i <= j { b.swapAt(i, j); i += 1; j -= 1 }
            }
            // Now [lo, j] precede or equal the pivot and [i, hi] follow or equal it.
            if k - 1 <= j { hi = j } else if k - 1 >= i { lo = i } else { return }
        }
    }

    /// Row of the region overlapping `pages` (the map cursor's cell), or the next one in address order.
    func row(near pages: PageRange, map: SharedRegionMap) -> Int? {
        switch rows {
        case .address:
            let i = map.index(ofFirstRegionEndingAfter: pages.lower)
            return i < rowCount ? i : (rowCount > 0 ? rowCount - 1 : nil)
        case .addressDescending:
            let i = map.index(ofFirstRegionEndingAfter: pages.lower)
            return rowCount == 0 ? nil : rowCount - 1 - min(i, rowCount - 1)
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

/// A region's rank in a non-address order and its position in address order.
struct RankedRow {
    var rank: UInt64
    var index: Int

    /// Rank, then address: a strict total order.
    @inline(__always)
    func precedes(_ o: RankedRow) -> Bool { rank != o.rank ? rank < o.rank : index < o.index }
}

/// A non-address order as one number per region: smaller ranks come first, ties go to the
/// lower address. A protocol rather than a closure so that `selectTop` is specialised per order.
protocol RegionRank {
    /// The region's rank, or any value `>= bound` when it cannot rank below `bound`. Called in
    /// address order with a bound that never grows.
    mutating func rank(_ r: SharedRegion, below bound: UInt64) -> UInt64
    /// The smallest rank any region can have.
    var floor: UInt64 { get }
}

struct SizeRank: RegionRank {
    let descending: Bool
    @inline(__always) func rank(_ r: SharedRegion, below _: UInt64) -> UInt64 { descending ? ~r.pages.count : r.pages.count }
    /// Regions hold at least one page.
    var floor: UInt64 { descending ? 0 : 1 }
}

/// Descending age is oldest first: the smallest `firstShared` stamp.
struct AgeRank: RegionRank {
    let descending: Bool
    @inline(__always) func rank(_ r: SharedRegion, below _: UInt64) -> UInt64 { UInt64(descending ? r.firstShared : ~r.firstShared) }
    var floor: UInt64 { 0 }
}

/// Flips of a region: two binary searches in the flip index (only done when sorting by flips).
///
/// Most flips first: a region must have more flips than `~bound` to rank below it, and so must
/// any block of pages holding it. One query over a block that gallops forward (doubling while
/// blocks stay quiet, halving when not) rules out every region inside, so the quiet stretches
/// between flipped buffers cost one comparison a region.
struct FlipsRank: RegionRank {
    let descending: Bool
    let index: FlipIndex
    /// Pages below this hold no region that can rank below the current bound.
    private var quietUntil: UInt64 = 0
    private var blockPages: UInt64 = 1 << 12

    init(descending: Bool, index: FlipIndex) { self.descending = descending; self.index = index }

    mutating func rank(_ r: SharedRegion, below bound: UInt64) -> UInt64 {
        guard descending else { return index.flips(in: r.pages) }
        let pages = r.pages
        if pages.upper <= quietUntil { return .max }
        guard pages.lower >= quietUntil else { return ~index.flips(in: pages) }
        let span = max(blockPages, pages.count)
        let block = PageRange(first: pages.lower, count: span)  // clamped to the address space
        let f = index.flips(in: block)
        if f <= ~bound {
            quietUntil = block.upper
            blockPages = min(blockPages << 1, 1 << 40)
            if pages.upper <= quietUntil { return .max }
        } else {
            blockPages = max(blockPages >> 1, 1)
        }
        return block.upper == pages.upper ? ~f : ~index.flips(in: pages)
    }

    var floor: UInt64 { 0 }
}
