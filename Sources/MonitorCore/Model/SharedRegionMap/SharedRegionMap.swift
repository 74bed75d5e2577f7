/// One maximal run of shared pages.
public struct SharedRegion: Hashable, Sendable, Codable {
    public var pages: PageRange
    /// True when this span was produced by merging neighbours past the region cap: some of its
    /// pages may in truth be private.
    public var isApproximate: Bool
    /// Caller-defined stamp (the Monitor uses milliseconds since tracking began) of the first
    /// time any page of this region became shared.
    public var firstShared: UInt32
    /// Stamp of the last change to this region (grown, shrunk, split or merged).
    public var lastChange: UInt32

    public init(pages: PageRange, isApproximate: Bool = false, firstShared: UInt32 = 0, lastChange: UInt32 = 0) {
        self.pages = pages; self.isApproximate = isApproximate
        self.firstShared = firstShared; self.lastChange = lastChange
    }
}

/// The set of shared guest pages of one VM, kept as maximal coalesced regions in address order.
///
/// Shared runs that overlap or touch merge into one region; `markPrivate` shrinks or splits them.
/// Each region carries `firstShared` (the smallest stamp among the parts merged into it) and
/// `lastChange` (the stamp of the last operation that grew, shrank, split or merged it). Marking
/// pages that are already in the requested state changes nothing, stamps included.
///
/// Storage is a B+tree: leaves hold up to 64 regions as parallel arrays (start with the
/// approximate flag in bit 63, end, `firstShared`, `lastChange`: 24 bytes a slot), inner nodes
/// hold per-child subtree region counts and shared-page sums, so positional access (`region(at:)`)
/// and window sums (`sharedPages(in:)`) are O(log n) root descents, and per-child longest region
/// and oldest `firstShared`, so the top-k queries (`largestRegions(_:)`, `oldestRegions(_:)`) read
/// O(k log n) nodes instead of every region. An update whose page falls in the leaf of the
/// previous update skips the descent (a last-leaf cursor, dropped by any split, merge or
/// positional edit). The map is a value type with copy-on-write: the first mutation of a copy
/// duplicates the tree in O(n).
///
/// **Region cap.** A hostile guest can fragment its memory one page at a time. When a mutation
/// leaves more than `regionCap` regions (it can add at most one), the map merges one pair of
/// neighbours next to the change: among the gaps beside the region just created (or the two
/// pieces of the region just split), the smallest gap is filled, ties going to the lower address.
/// The merged span is marked approximate and so is the map: from then on the map is a superset of
/// the true shared set. This costs O(log n) and never scans the map.
public struct SharedRegionMap: Sendable {
    public static let defaultRegionCap = 1_000_000

    /// The most regions the map keeps; see the type's documentation for the merge policy.
    public let regionCap: Int
    /// True once a cap merge has happened: some regions may include private pages.
    public private(set) var isApproximate = false
    /// The highest region count reached, counted before cap merges (so `peakCount > regionCap`
    /// tells that the cap was hit).
    public private(set) var peakCount = 0
    private var tree: _RegionTree

    /// An empty map. O(1).
    public init(regionCap: Int = SharedRegionMap.defaultRegionCap) {
        precondition(regionCap >= 1, "regionCap must be at least 1, got \(regionCap)")
        self.regionCap = regionCap
        self.tree = _RegionTree()
    }

    /// A map holding exactly `regions` (a snapshot being restored), built bottom-up in O(n)
    /// with nodes evenly filled. The regions must be in address order, non-empty, neither
    /// overlapping nor touching, at most `regionCap` of them, and approximate only in an
    /// approximate map; anything else throws, naming the first offending region.
    public init(regions: [SharedRegion], regionCap: Int = SharedRegionMap.defaultRegionCap,
                isApproximate: Bool = false, peakCount: Int = 0) throws(SharedRegionMapLoadError) {
        guard regionCap >= 1 else { throw .badRegionCap(regionCap) }
        guard regions.count <= regionCap else { throw .overCap(count: regions.count, regionCap: regionCap) }
        var previousEnd: UInt64?
        for (i, r) in regions.enumerated() {
            if r.pages.isEmpty { throw .emptyRegion(index: i) }
            if let p = previousEnd, p >= r.pages.lower { throw .outOfOrder(index: i) }
            if r.isApproximate && !isApproximate { throw .approximateRegionInExactMap(index: i) }
            previousEnd = r.pages.upper
        }
        self.regionCap = regionCap
        self.isApproximate = isApproximate
        self.peakCount = Swift.max(peakCount, regions.count)
        tree = _RegionTree(bulk: regions)
        _checkInvariantsAfterMutation()
    }

    /// The number of regions. O(1).
    public var count: Int { tree.count }
    /// O(1).
    public var isEmpty: Bool { tree.count == 0 }
    /// The number of shared pages (approximate spans count in full). O(1).
    public var sharedPages: UInt64 { tree.sharedPages }
    /// Bytes allocated for tree nodes, malloc headers included. O(1).
    public var allocatedBytes: Int { tree.allocatedBytes }
    /// Whether the tree's last-leaf cursor is set (for tests that must exercise it).
    var hasLeafCursor: Bool { tree.cursorLeaf != nil }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&tree) { tree = tree.copy() }
    }

    /// Makes the tree unique once before a run of updates that pass `treeIsUnique: true` (a
    /// batch): no copy of the map may be taken between this and those updates.
    mutating func prepareForUpdates() { makeUnique() }

    /// After `prepareForUpdates`, before a run of `updates` updates: defers the top-k bounds
    /// (`_RegionTree.boundsDeferred`) when one pass over the regions at the end costs less than
    /// refreshing them after each update (about a tenth of an update's path refresh a region).
    /// Then `endDeferredBounds` must come before any query or copy of the map. True when deferred.
    mutating func deferBounds(forUpdates updates: Int) -> Bool {
        guard tree.count / Self.regionsPerDeferredUpdate < updates else { return false }
        tree.boundsDeferred = true
        return true
    }

    /// Regions one deferred update pays for in the final pass.
    static let regionsPerDeferredUpdate = 8

    /// Ends `deferBounds`: recomputes every bound. O(n).
    mutating func endDeferredBounds() { tree.endDeferredBounds() }

    /// Marks `range` shared, merging it with every region it overlaps or touches.
    ///
    /// - Returns: the pages that were private before and are shared now (measured before any
    ///   cap merge, which may add gap pages as approximate).
    /// - Complexity: O(log n) amortized; O(k log n) when the range swallows k regions that
    ///   straddle leaves, paid for by the insertions that created them.
    @discardableResult
    public mutating func markShared(_ range: PageRange, stamp: UInt32) -> UInt64 {
        markShared(range, stamp: stamp, treeIsUnique: false)
    }

    /// `treeIsUnique`: the caller made the tree unique (`prepareForUpdates`) and took no copy since.
    @inline(__always)
    mutating func markShared(_ range: PageRange, stamp: UInt32, treeIsUnique: Bool) -> UInt64 {
        guard !range.isEmpty else { return 0 }
        if !treeIsUnique { makeUnique() }
        let before = tree.count
        let newly = tree.markShared(lower: range.lower, upper: range.upper, stamp: stamp)
        if tree.count > before {
            // An isolated region was added; it ends at `range.upper`.
            enforceCap(aroundFirstRegionEndingAtOrAfter: range.upper, pieces: 1, stamp: stamp)
        }
        _checkInvariantsAfterMutation()
        return newly
    }

    /// Marks `range` private, shrinking, splitting or removing the regions it overlaps.
    ///
    /// - Returns: the pages that were shared before and are private now (measured before any
    ///   cap merge).
    /// - Complexity: O(log n) amortized, as for `markShared`.
    @discardableResult
    public mutating func markPrivate(_ range: PageRange, stamp: UInt32) -> UInt64 {
        markPrivate(range, stamp: stamp, treeIsUnique: false)
    }

    /// `treeIsUnique`: the caller made the tree unique (`prepareForUpdates`) and took no copy since.
    @inline(__always)
    mutating func markPrivate(_ range: PageRange, stamp: UInt32, treeIsUnique: Bool) -> UInt64 {
        guard !range.isEmpty else { return 0 }
        if !treeIsUnique { makeUnique() }
        let before = tree.count
        let removed = tree.markPrivate(lower: range.lower, upper: range.upper, stamp: stamp)
        if tree.count > before {
            // One region was split in two; the left piece ends at `range.lower`.
            enforceCap(aroundFirstRegionEndingAtOrAfter: range.lower, pieces: 2, stamp: stamp)
        }
        _checkInvariantsAfterMutation()
        return removed
    }

    /// Records the peak and, past the cap, fills the smallest gap beside the `pieces` regions
    /// starting at the first region ending at or after `page`. A mutation adds at most one
    /// region, so one merge suffices. O(1) under the cap, else O(log n).
    @inline(__always)
    private mutating func enforceCap(aroundFirstRegionEndingAtOrAfter page: UInt64, pieces: Int, stamp: UInt32) {
        peakCount = Swift.max(peakCount, tree.count)
        guard tree.count > regionCap else { return }
        // Usually the regions compared sit in the leaf just edited: merged there without a descent.
        if !tree.mergeSmallestGapInCursorLeaf(aroundFirstRegionEndingAtOrAfter: page, pieces: pieces, stamp: stamp) {
            mergeSmallestGap(around: tree.rank(ofFirstRegionEndingAtOrAfter: page), pieces: pieces, stamp: stamp)
        }
        isApproximate = true
    }

    /// The general cap merge, by index: O(log n) descents.
    private mutating func mergeSmallestGap(around first: Int, pieces: Int, stamp: UInt32) {
        assert(tree.count == regionCap + 1)
        var best = -1
        var bestGap = UInt64.max
        for i in Swift.max(0, first - 1)...(first + pieces - 1) where i + 1 < tree.count {
            let gap = tree.region(at: i + 1).pages.lower - tree.region(at: i).pages.upper
            if gap < bestGap { bestGap = gap; best = i }
        }
        precondition(best >= 0, "no neighbours to merge")
        tree.mergeWithNext(at: best, stamp: stamp)
    }

    /// The region containing `page`, if it is shared. O(log n).
    public func region(containing page: UInt64) -> SharedRegion? {
        guard page < PageRange.maxPage else { return nil }
        let i = tree.rank(ofFirstRegionEndingAtOrAfter: page + 1)
        guard i < tree.count else { return nil }
        let r = tree.region(at: i)
        return r.pages.lower <= page ? r : nil
    }

    /// Index of the first region that ends after `page` (the region containing it, or the next
    /// one; `count` if none). O(log n).
    public func index(ofFirstRegionEndingAfter page: UInt64) -> Int {
        guard page < PageRange.maxPage else { return tree.count }
        return tree.rank(ofFirstRegionEndingAtOrAfter: page + 1)
    }

    /// The region at `index` in address order. O(log n).
    public func region(at index: Int) -> SharedRegion {
        precondition(index >= 0 && index < tree.count, "region index \(index) out of range 0..<\(tree.count)")
        return tree.region(at: index)
    }

    /// Shared pages inside `window`. O(log n): two prefix-sum descents.
    public func sharedPages(in window: PageRange) -> UInt64 {
        guard !window.isEmpty else { return 0 }
        return tree.sharedPages(below: window.upper) - tree.sharedPages(below: window.lower)
    }

    /// Shared pages in each of `cells` equal slices of `span` (the last slice takes the remainder;
    /// slices are at least one page, so when `span` has fewer pages than `cells` the trailing
    /// cells are 0).
    ///
    /// - Complexity: one walk down the tree that splits the sorted slice boundaries among the
    ///   children: O(c log(n/c) + L) for c cells, where L is the number of regions in the leaves
    ///   holding a boundary (at most one leaf per boundary).
    public func sharedPagesPerCell(span: PageRange, cells: Int) -> [UInt64] {
        guard cells > 0 else { return [] }
        let step = Swift.max(1, span.count / UInt64(cells))
        // Boundaries x_0 ... x_cells, clamped to the span; cell i is prefix(x_i+1) - prefix(x_i).
        var points = [UInt64](unsafeUninitializedCapacity: cells + 1) { buffer, initialized in
            for i in 0..<cells {
                let offset = UInt64(i) * step
                buffer[i] = offset >= span.count ? span.upper : span.lower + offset
            }
            buffer[cells] = span.upper
            initialized = cells + 1
        }
        tree.sharedPages(below: &points)
        return [UInt64](unsafeUninitializedCapacity: cells) { buffer, initialized in
            for i in 0..<cells { buffer[i] = points[i + 1] - points[i] }
            initialized = cells
        }
    }

    /// The `k` longest regions (every region when `k >= count`), longest first, ties going to the
    /// lower address: the first `k` of the regions sorted by descending `pages.count`, then address.
    ///
    /// - Complexity: O(k log n) nodes visited: a best-first search over subtrees by their longest
    ///   region (kept in the inner nodes) opens only nodes holding one of the first `k` regions
    ///   (plus one per level at a tie), each pushing its up to 64 entries on a binary heap:
    ///   O(k log n · 64 log(k log n)) comparisons, whatever n is. It never reads the other leaves.
    public func largestRegions(_ k: Int) -> [SharedRegion] { tree.top(k, by: .longest) }

    /// The `k` regions with the smallest `firstShared` stamp (every region when `k >= count`),
    /// oldest first, ties going to the lower address. O(k log n) nodes visited, as for
    /// `largestRegions(_:)`.
    public func oldestRegions(_ k: Int) -> [SharedRegion] { tree.top(k, by: .oldest) }

    /// Every region in address order. O(n).
    public var allRegions: [SharedRegion] { Array(self) }

    /// Checks the whole structure; traps on the first violation. O(n).
    ///
    /// Regions sorted, non-empty, non-overlapping and non-adjacent, inside the 64-bit space;
    /// every inner entry's count, page sum, last end, longest region and oldest `firstShared`
    /// equal to its subtree's; every node but
    /// the root and the first and last of each level at least half full, none empty but a root
    /// leaf, none over capacity; all leaves at one depth and linked in
    /// order; cached totals right; at most `regionCap` regions; approximate regions only in an
    /// approximate map.
    public func checkInvariants() {
        let anyApproximate = tree.checkInvariants()
        precondition(tree.count <= regionCap, "\(tree.count) regions exceed the cap \(regionCap)")
        precondition(peakCount >= tree.count, "peakCount \(peakCount) below count \(tree.count)")
        precondition(!anyApproximate || isApproximate, "approximate region in an exact map")
    }

    /// Debug builds check the full structure after each mutation of a small map; larger maps are
    /// checked by tests calling `checkInvariants()` so that debug runs stay fast.
    @inline(__always)
    private func _checkInvariantsAfterMutation() {
        #if DEBUG
        if tree.count <= 512 { checkInvariants() }
        #endif
    }
}

extension SharedRegionMap: Sequence {
    /// Walks the leaves in address order; holds the tree alive, so mutating the map meanwhile
    /// copies it instead.
    public struct Iterator: IteratorProtocol {
        private let tree: _RegionTree
        private var leaf: UnsafeMutableRawPointer?
        private var slot = 0

        init(tree: _RegionTree) {
            self.tree = tree
            self.leaf = tree.firstLeaf
        }

        /// O(1) amortized.
        public mutating func next() -> SharedRegion? {
            while let raw = leaf {
                let node = _Leaf(raw)
                if slot < node.count {
                    defer { slot += 1 }
                    return node.region(slot)
                }
                leaf = node.next
                slot = 0
            }
            return nil
        }
    }

    /// O(log n).
    public func makeIterator() -> Iterator { Iterator(tree: tree) }
    /// O(1).
    public var underestimatedCount: Int { tree.count }
}

/// Why `SharedRegionMap(regions:)` refused its input.
public enum SharedRegionMapLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    case badRegionCap(Int)
    case overCap(count: Int, regionCap: Int)
    case emptyRegion(index: Int)
    case outOfOrder(index: Int)
    case approximateRegionInExactMap(index: Int)

    public var description: String {
        switch self {
        case .badRegionCap(let c): "region cap \(c) is below 1"
        case .overCap(let n, let c): "\(n) regions exceed the region cap \(c)"
        case .emptyRegion(let i): "region \(i) is empty"
        case .outOfOrder(let i): "region \(i) overlaps, touches or precedes the one before it"
        case .approximateRegionInExactMap(let i): "region \(i) is approximate in an exact map"
        }
    }
}

extension SharedRegionMap {
    /// Pages shared in exactly one of the two maps. O(n + m) in the region counts.
    public static func symmetricDifferencePages(_ a: SharedRegionMap, _ b: SharedRegionMap) -> UInt64 {
        // |A xor B| = |A| + |B| - 2 |A and B|; the intersection comes from one merge walk.
        var ia = a.makeIterator(), ib = b.makeIterator()
        var ra = ia.next(), rb = ib.next()
        var both: UInt64 = 0
        while let x = ra, let y = rb {
            let lo = Swift.max(x.pages.lower, y.pages.lower), hi = Swift.min(x.pages.upper, y.pages.upper)
            if lo < hi { both += hi - lo }
            if x.pages.upper <= y.pages.upper { ra = ia.next() } else { rb = ib.next() }
        }
        return a.sharedPages + b.sharedPages - 2 * both
    }
}
