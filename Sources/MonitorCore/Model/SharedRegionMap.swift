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
/// O(k log n) nodes instead of every region. The map is a value type with
/// copy-on-write: the first mutation of a copy duplicates the tree in O(n).
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

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&tree) { tree = tree.copy() }
    }

    /// Marks `range` shared, merging it with every region it overlaps or touches.
    ///
    /// - Returns: the pages that were private before and are shared now (measured before any
    ///   cap merge, which may add gap pages as approximate).
    /// - Complexity: O(log n) amortized; O(k log n) when the range swallows k regions that
    ///   straddle leaves, paid for by the insertions that created them.
    @discardableResult
    public mutating func markShared(_ range: PageRange, stamp: UInt32) -> UInt64 {
        guard !range.isEmpty else { return 0 }
        makeUnique()
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
        guard !range.isEmpty else { return 0 }
        makeUnique()
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
        mergeSmallestGap(around: tree.rank(ofFirstRegionEndingAtOrAfter: page), pieces: pieces, stamp: stamp)
    }

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
        isApproximate = true
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

// MARK: - Nodes

/// A leaf: header (count, next leaf), then columns start (approximate flag in bit 63), end, and
/// stamps (firstShared in the low half, lastChange in the high half: one column fewer to shift).
/// One slot past `capacity` absorbs the transient overflow of an insert.
struct _Leaf {
    static let capacity = 64
    /// The fill bound `checkInvariants` enforces for non-root nodes.
    static let minimum = capacity / 2
    /// Below this a deletion rebalances, which keeps typical fill above 2/3 (memory per region).
    static let refill = capacity * 2 / 3
    static let slots = capacity + 1
    static let byteCount = 16 + 24 * slots
    static let approximateBit: UInt64 = 1 << 63

    let raw: UnsafeMutableRawPointer
    @inline(__always) init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    static func allocate() -> _Leaf {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 16)
        (raw + 16).bindMemory(to: UInt64.self, capacity: 3 * slots)
        let leaf = _Leaf(raw)
        leaf.count = 0
        leaf.next = nil
        return leaf
    }

    @inline(__always) var count: Int {
        get { raw.load(as: Int.self) }
        nonmutating set { raw.storeBytes(of: newValue, as: Int.self) }
    }
    @inline(__always) var next: UnsafeMutableRawPointer? {
        get { raw.load(fromByteOffset: 8, as: UnsafeMutableRawPointer?.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 8, as: UnsafeMutableRawPointer?.self) }
    }
    @inline(__always) var starts: UnsafeMutablePointer<UInt64> { (raw + 16).assumingMemoryBound(to: UInt64.self) }
    @inline(__always) var ends: UnsafeMutablePointer<UInt64> { (raw + 16 + 8 * Self.slots).assumingMemoryBound(to: UInt64.self) }
    @inline(__always) var stamps: UnsafeMutablePointer<UInt64> { (raw + 16 + 16 * Self.slots).assumingMemoryBound(to: UInt64.self) }

    @inline(__always) func start(_ i: Int) -> UInt64 { starts[i] & ~Self.approximateBit }
    @inline(__always) func isApproximate(_ i: Int) -> Bool { starts[i] & Self.approximateBit != 0 }
    @inline(__always) func length(_ i: Int) -> UInt64 { ends[i] &- (starts[i] & ~Self.approximateBit) }
    @inline(__always) func first(_ i: Int) -> UInt32 { UInt32(truncatingIfNeeded: stamps[i]) }
    @inline(__always) func last(_ i: Int) -> UInt32 { UInt32(truncatingIfNeeded: stamps[i] >> 32) }

    @inline(__always) func set(_ i: Int, start: UInt64, end: UInt64, approximate: Bool, first: UInt32, last: UInt32) {
        starts[i] = start | (approximate ? Self.approximateBit : 0)
        ends[i] = end
        stamps[i] = UInt64(first) | UInt64(last) << 32
    }

    func region(_ i: Int) -> SharedRegion {
        SharedRegion(pages: PageRange(lower: start(i), upper: ends[i]), isApproximate: isApproximate(i),
                     firstShared: first(i), lastChange: last(i))
    }

    func set(_ i: Int, _ r: SharedRegion) {
        set(i, start: r.pages.lower, end: r.pages.upper, approximate: r.isApproximate, first: r.firstShared, last: r.lastChange)
    }

    /// The longest region and the smallest `firstShared` (widened) among `slots`; 0 and
    /// `UInt32.max` when there are none. O(slots.count).
    @inline(__always) func bounds(_ slots: Range<Int>) -> (longest: UInt64, oldest: UInt64) {
        var longest: UInt64 = 0, oldest = UInt64(UInt32.max)
        for t in slots {
            longest = Swift.max(longest, length(t))
            oldest = Swift.min(oldest, stamps[t] & 0xFFFF_FFFF)
        }
        return (longest, oldest)
    }

    /// The longest region, stopping at the first one of `limit` pages (no region is longer).
    @inline(__always) func longest(atMost limit: UInt64) -> UInt64 {
        _largest(count, stoppingAt: limit) { length($0) }
    }

    /// The smallest `firstShared` (widened), stopping at the first one equal to `limit` (no stamp
    /// is smaller).
    @inline(__always) func oldest(atLeast limit: UInt64) -> UInt64 {
        _smallest(count, stoppingAt: limit) { stamps[$0] & 0xFFFF_FFFF }
    }

    /// First slot whose end is >= `page`, or `count`. O(capacity), for updates: counting the
    /// smaller ends vectorizes, never mispredicts and loads the column's lines in parallel,
    /// which beats a binary search's chain of dependent loads and unpredictable branches.
    @inline(__always) func firstSlot(endingAtOrAfter page: UInt64) -> Int {
        let n = count
        let e = ends
        var c = 0
        for t in 0..<n { c &+= _less(e[t], page) }
        return c
    }

    /// The same answer by binary search, O(log capacity), for queries that visit leaves in
    /// address order: there the branches predict well and speculation runs ahead into the next
    /// lines, where counting would wait for the whole column.
    @inline(__always) func searchSlot(endingAtOrAfter page: UInt64) -> Int {
        var lo = 0, hi = count
        let e = ends
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if e[mid] < page { lo = mid &+ 1 } else { hi = mid }
        }
        return lo
    }

    /// Replaces slots `i..<j` by `m` uninitialized slots (the caller writes them). O(capacity).
    @inline(__always) func replaceSlots(_ i: Int, _ j: Int, with m: Int) {
        let n = count
        let tail = n - j
        if m != j - i && tail > 0 {
            _moveEntries(.leaf, from: raw, Self.slots, j, to: raw, Self.slots, i + m, count: tail)
        }
        count = n - (j - i) + m
    }
}

/// An inner node: header (count), then columns child, child's last region end, child's shared
/// page sum, child's region count, child's longest region (pages) and child's oldest
/// `firstShared` stamp (the bounds that `top(_:by:)` searches by).
struct _Inner {
    static let capacity = 32
    static let minimum = capacity / 2
    static let refill = capacity * 2 / 3
    static let slots = capacity + 1
    static let columns = 6
    static let byteCount = 16 + 8 * columns * slots

    let raw: UnsafeMutableRawPointer
    @inline(__always) init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    static func allocate() -> _Inner {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 16)
        (raw + 16).bindMemory(to: UnsafeMutableRawPointer.self, capacity: slots)
        (raw + 16 + 8 * slots).bindMemory(to: UInt64.self, capacity: 2 * slots)
        (raw + 16 + 24 * slots).bindMemory(to: Int.self, capacity: slots)
        (raw + 16 + 32 * slots).bindMemory(to: UInt64.self, capacity: 2 * slots)
        let node = _Inner(raw)
        node.count = 0
        return node
    }

    @inline(__always) var count: Int {
        get { raw.load(as: Int.self) }
        nonmutating set { raw.storeBytes(of: newValue, as: Int.self) }
    }
    @inline(__always) var children: UnsafeMutablePointer<UnsafeMutableRawPointer> {
        (raw + 16).assumingMemoryBound(to: UnsafeMutableRawPointer.self)
    }
    @inline(__always) var lastEnds: UnsafeMutablePointer<UInt64> { (raw + 16 + 8 * Self.slots).assumingMemoryBound(to: UInt64.self) }
    @inline(__always) var sums: UnsafeMutablePointer<UInt64> { (raw + 16 + 16 * Self.slots).assumingMemoryBound(to: UInt64.self) }
    @inline(__always) var counts: UnsafeMutablePointer<Int> { (raw + 16 + 24 * Self.slots).assumingMemoryBound(to: Int.self) }
    /// The longest region (pages) of each child's subtree; 0 for an empty leaf.
    @inline(__always) var longest: UnsafeMutablePointer<UInt64> { (raw + 16 + 32 * Self.slots).assumingMemoryBound(to: UInt64.self) }
    /// The smallest `firstShared` of each child's subtree, widened; `UInt32.max` for an empty leaf.
    @inline(__always) var oldest: UnsafeMutablePointer<UInt64> { (raw + 16 + 40 * Self.slots).assumingMemoryBound(to: UInt64.self) }

    /// The longest region and the oldest stamp of the whole subtree. O(capacity).
    @inline(__always) func bounds() -> (longest: UInt64, oldest: UInt64) {
        var longest: UInt64 = 0, oldest = UInt64(UInt32.max)
        for t in 0..<count {
            longest = Swift.max(longest, self.longest[t])
            oldest = Swift.min(oldest, self.oldest[t])
        }
        return (longest, oldest)
    }

    /// `bounds().longest`, stopping at the first child that reaches `limit`.
    @inline(__always) func longest(atMost limit: UInt64) -> UInt64 {
        _largest(count, stoppingAt: limit) { self.longest[$0] }
    }

    /// `bounds().oldest`, stopping at the first child that reaches `limit`.
    @inline(__always) func oldest(atLeast limit: UInt64) -> UInt64 {
        _smallest(count, stoppingAt: limit) { self.oldest[$0] }
    }

    /// First child whose subtree ends at or after `page`, or the last child. O(capacity).
    @inline(__always) func child(endingAtOrAfter page: UInt64) -> Int {
        // Counting instead of stopping early vectorizes and never mispredicts.
        let n = count &- 1
        let e = lastEnds
        var i = 0
        for t in 0..<n { i &+= _less(e[t], page) }
        return i
    }
}

/// 1 when `a < b`, else 0, for values below 2^63 (pages are below 2^53): the borrow bit of
/// `a - b`. Plain `<` in a select gets turned into a branch, which random keys mispredict.
@inline(__always)
func _less(_ a: UInt64, _ b: UInt64) -> Int { Int(truncatingIfNeeded: (a &- b) >> 63) }

enum _NodeKind { case leaf, inner }

/// memmove of `count` entries between (possibly the same) nodes of possibly different slot counts.
/// Both layouts are 16 header bytes then 8-byte columns: 3 in a leaf, 6 in an inner node.
@inline(__always)
private func _moveEntries(_ kind: _NodeKind, from src: UnsafeMutableRawPointer, _ srcSlots: Int, _ srcIndex: Int,
                          to dst: UnsafeMutableRawPointer, _ dstSlots: Int, _ dstIndex: Int, count: Int) {
    guard count > 0 else { return }
    for c in 0..<(kind == .leaf ? 3 : _Inner.columns) {
        (dst + 16 + 8 * (c * dstSlots + dstIndex)).copyMemory(from: src + 16 + 8 * (c * srcSlots + srcIndex), byteCount: 8 * count)
    }
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

// MARK: - Tree

/// The B+tree behind `SharedRegionMap`: owns every node and frees them in `deinit`.
///
/// `@unchecked Sendable` is safe because the tree is only mutated through `SharedRegionMap`'s
/// mutating methods, which first make the map's reference unique (`isKnownUniquelyReferenced`,
/// copying otherwise). A tree reachable from more than one value or thread is therefore never
/// written, and the read paths use no shared scratch state (the path and scratch buffers are
/// touched only by mutations). Iterators hold a reference too, so they also force a copy.
final class _RegionTree: @unchecked Sendable {
    static let maxHeight = 32
    static let scratchSlots = 3 * (_Leaf.slots + _Inner.slots)

    /// The root: a leaf when `height == 0`, else an inner node `height` levels above the leaves.
    private(set) var root: UnsafeMutableRawPointer
    private(set) var height = 0
    private(set) var count = 0
    private(set) var sharedPages: UInt64 = 0
    private var leafNodes = 1
    private var innerNodes = 0
    /// The inner nodes and child slots of the last mutating descent, indexed by level (1...height).
    private let pathNodes: UnsafeMutablePointer<UnsafeMutableRawPointer>
    private let pathSlots: UnsafeMutablePointer<Int>
    /// Room for the entries of up to three nodes while they are redistributed.
    private let scratch: UnsafeMutableRawPointer

    init() {
        root = _Leaf.allocate().raw
        pathNodes = .allocate(capacity: Self.maxHeight + 1)
        pathSlots = .allocate(capacity: Self.maxHeight + 1)
        scratch = .allocate(byteCount: 16 + 8 * _Inner.columns * Self.scratchSlots, alignment: 16)
    }

    deinit {
        Self.free(root, level: height)
        pathNodes.deallocate()
        pathSlots.deallocate()
        scratch.deallocate()
    }

    private static func free(_ node: UnsafeMutableRawPointer, level: Int) {
        if level > 0 {
            let inner = _Inner(node)
            for i in 0..<inner.count { free(inner.children[i], level: level - 1) }
        }
        node.deallocate()
    }

    /// Heap bytes of all nodes, counting 16 bytes of malloc bookkeeping each.
    var allocatedBytes: Int { leafNodes * (_Leaf.byteCount + 16) + innerNodes * (_Inner.byteCount + 16) }

    /// A deep copy. O(n).
    func copy() -> _RegionTree {
        let t = _RegionTree()
        t.root.deallocate()
        var previousLeaf: _Leaf? = nil
        t.root = Self.clone(root, level: height, previousLeaf: &previousLeaf)
        t.height = height
        t.count = count
        t.sharedPages = sharedPages
        t.leafNodes = leafNodes
        t.innerNodes = innerNodes
        return t
    }

    private static func clone(_ node: UnsafeMutableRawPointer, level: Int, previousLeaf: inout _Leaf?) -> UnsafeMutableRawPointer {
        if level == 0 {
            let leaf = _Leaf.allocate()
            leaf.raw.copyMemory(from: node, byteCount: _Leaf.byteCount)
            leaf.next = nil
            previousLeaf?.next = leaf.raw
            previousLeaf = leaf
            return leaf.raw
        }
        let inner = _Inner.allocate()
        inner.raw.copyMemory(from: node, byteCount: _Inner.byteCount)
        for i in 0..<inner.count {
            inner.children[i] = clone(inner.children[i], level: level - 1, previousLeaf: &previousLeaf)
        }
        return inner.raw
    }

    /// A tree holding `regions` (sorted, disjoint and not touching: the caller checked), leaves
    /// and inner nodes filled evenly so that every fill bound holds. O(n).
    convenience init(bulk regions: [SharedRegion]) {
        self.init()
        guard !regions.isEmpty else { return }
        root.deallocate()
        var nodes: [UnsafeMutableRawPointer] = []
        let leafCount = (regions.count + _Leaf.capacity - 1) / _Leaf.capacity
        var taken = 0
        var previous: _Leaf?
        for k in 0..<leafCount {
            let n = (regions.count - taken) / (leafCount - k)
            let leaf = _Leaf.allocate()
            for j in 0..<n {
                leaf.set(j, regions[taken + j])
                sharedPages &+= regions[taken + j].pages.count
            }
            leaf.count = n
            taken += n
            previous?.next = leaf.raw
            previous = leaf
            nodes.append(leaf.raw)
        }
        count = regions.count
        leafNodes = leafCount
        var level = 0
        while nodes.count > 1 {
            let parentCount = (nodes.count + _Inner.capacity - 1) / _Inner.capacity
            var parents: [UnsafeMutableRawPointer] = []
            var used = 0
            for k in 0..<parentCount {
                let n = (nodes.count - used) / (parentCount - k)
                let parent = _Inner.allocate()
                for i in 0..<n { setEntry(parent, i, child: nodes[used + i], level: level) }
                parent.count = n
                used += n
                parents.append(parent.raw)
            }
            innerNodes += parentCount
            nodes = parents
            level += 1
        }
        root = nodes[0]
        height = level
    }

    var firstLeaf: UnsafeMutableRawPointer {
        var node = root
        for _ in 0..<height { node = _Inner(node).children[0] }
        return node
    }

    // MARK: Queries

    /// Number of regions ending before `page` = index of the first region ending at or after it.
    /// O(log n).
    func rank(ofFirstRegionEndingAtOrAfter page: UInt64) -> Int {
        var node = root
        var base = 0
        for _ in 0..<height {
            let inner = _Inner(node)
            let i = inner.child(endingAtOrAfter: page)
            for t in 0..<i { base &+= inner.counts[t] }
            node = inner.children[i]
        }
        return base + _Leaf(node).firstSlot(endingAtOrAfter: page)
    }

    /// The region at `index` (0..<count). O(log n).
    func region(at index: Int) -> SharedRegion {
        var node = root
        var r = index
        for _ in 0..<height {
            let inner = _Inner(node)
            var i = 0
            while i < inner.count - 1 && r >= inner.counts[i] { r -= inner.counts[i]; i += 1 }
            node = inner.children[i]
        }
        return _Leaf(node).region(r)
    }

    /// Shared pages below `page`. O(log n).
    func sharedPages(below page: UInt64) -> UInt64 {
        var node = root
        var sum: UInt64 = 0
        for _ in 0..<height {
            let inner = _Inner(node)
            let i = inner.child(endingAtOrAfter: page &+ 1)
            for t in 0..<i { sum &+= inner.sums[t] }
            node = inner.children[i]
        }
        return sum &+ Self.leafPrefix(_Leaf(node), below: page)
    }

    /// Shared pages of `leaf` below `page`.
    @inline(__always)
    private static func leafPrefix(_ leaf: _Leaf, below page: UInt64) -> UInt64 {
        let n = leaf.count
        var sum: UInt64 = 0
        var j = 0
        while j < n && leaf.ends[j] <= page { sum &+= leaf.length(j); j += 1 }
        if j < n && leaf.start(j) < page { sum &+= page - leaf.start(j) }
        return sum
    }

    /// Replaces each of the ascending `points` by the number of shared pages below it, in one
    /// walk that splits the points among the children.
    func sharedPages(below points: inout [UInt64]) {
        points.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            Self.prefixes(root, level: height, points: base, count: buffer.count, offset: 0, total: sharedPages)
        }
    }

    /// `offset` is the shared pages before `node`, `total` those inside it.
    private static func prefixes(_ node: UnsafeMutableRawPointer, level: Int,
                                 points: UnsafeMutablePointer<UInt64>, count: Int, offset: UInt64, total: UInt64) {
        if level == 0 {
            let leaf = _Leaf(node)
            let n = leaf.count
            if count > 2 {
                // Many points: one merge of points and regions.
                var j = 0
                var sum = offset
                for p in 0..<count {
                    let x = points[p]
                    while j < n && leaf.ends[j] <= x { sum &+= leaf.length(j); j += 1 }
                    points[p] = j < n && leaf.start(j) < x ? sum &+ (x &- leaf.start(j)) : sum
                }
                return
            }
            // Few points: binary search, then sum the lengths from the nearer end of the leaf.
            for p in 0..<count {
                let x = points[p]
                let j = leaf.searchSlot(endingAtOrAfter: x &+ 1)
                var below: UInt64 = 0
                if j <= n / 2 {
                    for t in 0..<j { below &+= leaf.length(t) }
                } else {
                    below = total
                    for t in j..<n { below &-= leaf.length(t) }
                }
                if j < n && leaf.start(j) < x { below &+= x &- leaf.start(j) }
                points[p] = offset &+ below
            }
            return
        }
        let inner = _Inner(node)
        let n = inner.count
        var i = 0
        var sum = offset
        var p = 0
        while p < count {
            let x = points[p]
            while i < n - 1 && inner.lastEnds[i] <= x { sum &+= inner.sums[i]; i += 1 }
            var q = p + 1
            if i == n - 1 {
                q = count
            } else {
                let limit = inner.lastEnds[i]
                while q < count && points[q] < limit { q += 1 }
            }
            prefixes(inner.children[i], level: level - 1, points: points + p, count: q - p, offset: sum, total: inner.sums[i])
            p = q
        }
    }

    // MARK: Top k

    /// The orders `top(_:by:)` serves, each with a bound kept per child in the inner nodes.
    enum TopOrder { case longest, oldest }

    /// A subtree (`slot < 0`, `level` above the leaves) or a region (`slot` in leaf `node`) waiting
    /// in the best-first search, with the rank of the best region it can hold.
    private struct Candidate {
        /// Smaller is better: `~length` or `firstShared`.
        var rank: UInt64
        /// Address, doubled, plus 1 for a region: a subtree's is a lower bound of its regions'
        /// starts, and sorts before a region at the same address, so a region leaves the heap only
        /// after every subtree that could hold a better one.
        var position: UInt64
        var node: UnsafeMutableRawPointer
        var level: Int
        var slot: Int

        @inline(__always) func precedes(_ o: Candidate) -> Bool {
            rank != o.rank ? rank < o.rank : position < o.position
        }
    }

    /// The first `k` regions by `order`, ties to the lower address. See
    /// `SharedRegionMap.largestRegions(_:)`.
    func top(_ k: Int, by order: TopOrder) -> [SharedRegion] {
        let wanted = Swift.min(k, count)
        guard wanted > 0 else { return [] }
        var heap: [Candidate] = []
        heap.reserveCapacity(256)
        var result: [SharedRegion] = []
        result.reserveCapacity(wanted)

        func push(_ c: Candidate) {
            heap.append(c)
            var i = heap.count - 1
            while i > 0 {
                let p = (i - 1) >> 1
                guard c.precedes(heap[p]) else { break }
                heap[i] = heap[p]
                i = p
            }
            heap[i] = c
        }
        func pop() -> Candidate {
            let top = heap[0]
            let last = heap.removeLast()
            let n = heap.count
            guard n > 0 else { return top }
            var i = 0
            while true {
                var c = 2 * i + 1
                guard c < n else { break }
                if c + 1 < n && heap[c + 1].precedes(heap[c]) { c += 1 }
                guard heap[c].precedes(last) else { break }
                heap[i] = heap[c]
                i = c
            }
            heap[i] = last
            return top
        }
        func expand(_ node: UnsafeMutableRawPointer, level: Int, lowerBound: UInt64) {
            if level == 0 {
                let leaf = _Leaf(node)
                for j in 0..<leaf.count {
                    let rank = order == .longest ? ~leaf.length(j) : UInt64(leaf.first(j))
                    push(Candidate(rank: rank, position: leaf.start(j) << 1 | 1, node: node, level: 0, slot: j))
                }
                return
            }
            let inner = _Inner(node)
            for i in 0..<inner.count {
                let rank = order == .longest ? ~inner.longest[i] : inner.oldest[i]
                let start = i == 0 ? lowerBound : inner.lastEnds[i - 1]
                push(Candidate(rank: rank, position: start << 1, node: inner.children[i], level: level - 1, slot: -1))
            }
        }

        expand(root, level: height, lowerBound: 0)
        while result.count < wanted {
            let c = pop()
            if c.slot >= 0 {
                result.append(_Leaf(c.node).region(c.slot))
            } else {
                expand(c.node, level: c.level, lowerBound: c.position >> 1)
            }
        }
        return result
    }

    // MARK: Mutations

    /// Descends to the first region ending at or after `page`, recording the path.
    /// Returns the leaf and the slot (the leaf's count when past its last region: only in the
    /// last leaf). O(log n).
    @inline(__always)
    private func descend(endingAtOrAfter page: UInt64) -> (_Leaf, Int) {
        var node = root
        var level = height
        while level > 0 {
            let inner = _Inner(node)
            let i = inner.child(endingAtOrAfter: page)
            pathNodes[level] = node
            pathSlots[level] = i
            node = inner.children[i]
            level -= 1
        }
        let leaf = _Leaf(node)
        return (leaf, leaf.firstSlot(endingAtOrAfter: page))
    }

    /// Descends to the slot of the region at `index` (0...count), recording the path. O(log n).
    private func descend(toIndex index: Int) -> (_Leaf, Int) {
        var node = root
        var level = height
        var r = index
        while level > 0 {
            let inner = _Inner(node)
            var i = 0
            while i < inner.count - 1 && r >= inner.counts[i] { r -= inner.counts[i]; i += 1 }
            pathNodes[level] = node
            pathSlots[level] = i
            node = inner.children[i]
            level -= 1
        }
        return (_Leaf(node), r)
    }

    /// After an edit of the leaf at the end of the recorded path (slots `written` rewritten, an
    /// empty range for a removal): adds the count and page deltas along the path, refreshes last
    /// ends and the longest/oldest bounds, then restores node fill bounds. O(log n) amortized.
    ///
    /// `replaced` are the bounds of the regions the edit removed or overwrote, or `(0, UInt32.max)`
    /// when the written regions contain them (a merge): a subtree's bound is rescanned only when
    /// the edit took away the region that held it, else it follows from the old bound and the
    /// written regions, and the refresh stops at the first level whose bounds did not change.
    @inline(__always)
    private func finish(_ leaf: _Leaf, written: Range<Int>, countDelta: Int, pageDelta: UInt64,
                        replaced: (longest: UInt64, oldest: UInt64)) {
        count &+= countDelta
        sharedPages &+= pageDelta
        refreshBounds(leaf, written: written, replaced: replaced)
        var level = 1
        // A last end changes above the leaf only along a run of last children.
        var endChanged = true
        while level <= height {
            let parent = _Inner(pathNodes[level])
            let i = pathSlots[level]
            parent.sums[i] &+= pageDelta
            parent.counts[i] &+= countDelta
            if endChanged {
                let end: UInt64
                if level == 1 {
                    // An emptied leaf is about to merge into its left sibling (or its right one,
                    // whose entry is then rewritten), so give it the end that survives the merge.
                    let n = leaf.count
                    end = n > 0 ? leaf.ends[n - 1] : (i > 0 ? parent.lastEnds[i - 1] : 0)
                } else {
                    let child = _Inner(pathNodes[level - 1])
                    end = child.lastEnds[child.count - 1]
                }
                endChanged = parent.lastEnds[i] != end && i == parent.count - 1
                parent.lastEnds[i] = end
            }
            level += 1
        }
        // Only a shrinking leaf can underflow: one created small at an edge fills by growing.
        let n = leaf.count
        if n > _Leaf.capacity { rebalance(overflowAt: written, leafCount: n) }
        else if countDelta < 0 && n < _Leaf.refill && height > 0 { rebalance(overflowAt: 0..<0, leafCount: n) }
    }

    /// The longest/oldest part of `finish`: refreshes the bounds along the recorded path, from
    /// the leaf up to the first level where they did not change.
    @inline(never)
    private func refreshBounds(_ leaf: _Leaf, written: Range<Int>, replaced: (longest: UInt64, oldest: UInt64)) {
        // The child's bounds before (`was`) and after (`now`) the edit; at the leaf, those of the
        // replaced and the written regions.
        var was = replaced
        var now = leaf.bounds(written)
        var level = 1
        while level <= height {
            let parent = _Inner(pathNodes[level])
            let i = pathSlots[level]
            let old = (longest: parent.longest[i], oldest: parent.oldest[i])
            var new = old
            // Kept when the replaced part did not hold it (a bound is the max or min of its
            // members), else the written part holds it if it is at least as extreme; else a
            // rescan, which stops at a tie of the old bound (common: many 1-page regions, many
            // equal stamps).
            let keepLongest = was.longest < old.longest, keepOldest = was.oldest > old.oldest
            new.longest = Swift.max(now.longest, keepLongest ? old.longest : 0)
            new.oldest = Swift.min(now.oldest, keepOldest ? old.oldest : .max)
            if !keepLongest && now.longest < was.longest {
                new.longest = Self.longest(pathNodes[level - 1], level: level - 1, atMost: old.longest, leaf: leaf)
            }
            if !keepOldest && now.oldest > was.oldest {
                new.oldest = Self.oldest(pathNodes[level - 1], level: level - 1, atLeast: old.oldest, leaf: leaf)
            }
            guard new != old else { return }
            parent.longest[i] = new.longest
            parent.oldest[i] = new.oldest
            was = old
            now = new
            level += 1
        }
    }

    /// A node's longest region, stopping at one of `limit` pages. O(capacity).
    @inline(never)
    private static func longest(_ node: UnsafeMutableRawPointer, level: Int, atMost limit: UInt64, leaf: _Leaf) -> UInt64 {
        level == 0 ? leaf.longest(atMost: limit) : _Inner(node).longest(atMost: limit)
    }

    /// A node's oldest stamp, stopping at one equal to `limit`. O(capacity).
    @inline(never)
    private static func oldest(_ node: UnsafeMutableRawPointer, level: Int, atLeast limit: UInt64, leaf: _Leaf) -> UInt64 {
        level == 0 ? leaf.oldest(atLeast: limit) : _Inner(node).oldest(atLeast: limit)
    }

    private static func capacity(_ level: Int) -> Int { level == 0 ? _Leaf.capacity : _Inner.capacity }
    private static func refill(_ level: Int) -> Int { level == 0 ? _Leaf.refill : _Inner.refill }
    private static func minimum(_ level: Int) -> Int { level == 0 ? _Leaf.minimum : _Inner.minimum }
    /// A sibling takes part of an overflowing node only if it has this much room, so that each
    /// O(capacity) spill buys several cheap inserts.
    private static func spillRoom(_ level: Int) -> Int { level == 0 ? 8 : 4 }
    private static func count(_ node: UnsafeMutableRawPointer, _ level: Int) -> Int {
        level == 0 ? _Leaf(node).count : _Inner(node).count
    }

    /// Which end of the tree an overflowing node sits at with its new entry, if any.
    private enum Edge { case none, first, last }

    /// Restores fill bounds from the leaf of the recorded path upwards; `written` are the slots
    /// the edit wrote in the leaf (of `leafCount` regions) when it overflowed. O(log n) worst
    /// case, amortized O(1) node operations.
    ///
    /// An overflow caused by an entry written at the very end (or start) of the tree, the
    /// pattern of an in-order (or descending) build, splits unevenly: the old node stays full and
    /// the new edge node takes the rest, so such builds fill nodes completely. Nodes at the ends
    /// of their level are therefore exempt from the lower fill bound.
    private func rebalance(overflowAt written: Range<Int>, leafCount: Int) {
        var edge = Edge.none
        if !written.isEmpty {
            var atFirst = written.lowerBound == 0
            var atLast = written.upperBound == leafCount
            for level in stride(from: 1, through: height, by: 1) where atFirst || atLast {
                let slot = pathSlots[level]
                atFirst = atFirst && slot == 0
                atLast = atLast && slot == _Inner(pathNodes[level]).count - 1
            }
            edge = atLast ? .last : (atFirst ? .first : .none)
        }
        var grew = !written.isEmpty
        var level = 0
        while level < height {
            let parent = _Inner(pathNodes[level + 1])
            let c = pathSlots[level + 1]
            let n = Self.count(parent.children[c], level)
            let cap = Self.capacity(level)
            let parentCount = parent.count
            if n > cap && edge != .none {
                // The new node holds the one entry past a full node (the new child of the parent
                // is at the same edge, so the parent splits the same way if it overflows).
                redistribute(parent, childLevel: level, first: c, count: 1, into: 2, firstCount: edge == .last ? cap : n - cap)
            } else if n > cap {
                // Overflow: spill into the emptier sibling when it has room, else split two full
                // nodes into three.
                let left = c > 0 ? Self.count(parent.children[c - 1], level) : Int.max
                let right = c + 1 < parent.count ? Self.count(parent.children[c + 1], level) : Int.max
                if Swift.min(left, right) <= cap - Self.spillRoom(level) {
                    redistribute(parent, childLevel: level, first: left <= right ? c - 1 : c, count: 2, into: 2)
                } else if parent.count > 1 {
                    redistribute(parent, childLevel: level, first: c > 0 ? c - 1 : c, count: 2, into: 3)
                } else {
                    redistribute(parent, childLevel: level, first: c, count: 1, into: 2)
                }
            } else if !grew && n < Self.refill(level) {
                // Underflow below 2/3: borrow from the fuller sibling when that brings both to
                // 2/3; else merge three nodes into two (or share among the three when they do not
                // fit in two); a lone pair merges into one when it fits. Siblings hold at least
                // `minimum` or sit at an edge (a lone pair then merges or shares), so every result
                // holds at least `minimum` too.
                let pc = parent.count
                let refill = Self.refill(level)
                let left = c > 0 ? Self.count(parent.children[c - 1], level) : -1
                let right = c + 1 < pc ? Self.count(parent.children[c + 1], level) : -1
                let sibling = left >= right ? c - 1 : c + 1
                let siblingCount = Swift.max(left, right)
                if n + siblingCount >= 2 * refill {
                    redistribute(parent, childLevel: level, first: Swift.min(c, sibling), count: 2, into: 2)
                } else if pc >= 3 {
                    let first = Swift.max(0, Swift.min(c - 1, pc - 3))
                    var total = 0
                    for t in first..<(first + 3) { total += Self.count(parent.children[t], level) }
                    if total <= 2 * cap {
                        redistribute(parent, childLevel: level, first: first, count: 3, into: 2)
                    } else {
                        redistribute(parent, childLevel: level, first: first, count: 3, into: 3)
                    }
                } else if pc == 2 {
                    if n + siblingCount <= cap {
                        redistribute(parent, childLevel: level, first: 0, count: 2, into: 1)
                    } else if n < Self.minimum(level) {
                        redistribute(parent, childLevel: level, first: 0, count: 2, into: 2)
                    }
                }
            }
            guard parent.count != parentCount else { break }
            grew = parent.count > parentCount
            if !grew { edge = .none }
            level += 1
        }
        // The root has no lower fill bound; split it when full, drop it when it has one child.
        let rootCount = Self.count(root, height)
        if rootCount > Self.capacity(height) {
            let cap = Self.capacity(height)
            let newRoot = _Inner.allocate()
            innerNodes += 1
            newRoot.count = 1
            newRoot.children[0] = root
            setEntry(newRoot, 0, child: root, level: height)
            root = newRoot.raw
            height += 1
            redistribute(newRoot, childLevel: height - 1, first: 0, count: 1, into: 2,
                         firstCount: edge == .last ? cap : (edge == .first ? rootCount - cap : nil))
        }
        while height > 0 && _Inner(root).count == 1 {
            let old = root
            root = _Inner(old).children[0]
            old.deallocate()
            innerNodes -= 1
            height -= 1
        }
    }

    /// Writes `parent`'s entry `i` for `child` (one level above `level`) from the child's content.
    private func setEntry(_ parent: _Inner, _ i: Int, child: UnsafeMutableRawPointer, level: Int) {
        parent.children[i] = child
        if level == 0 {
            let leaf = _Leaf(child)
            var sum: UInt64 = 0
            for j in 0..<leaf.count { sum &+= leaf.length(j) }
            parent.sums[i] = sum
            parent.counts[i] = leaf.count
            parent.lastEnds[i] = leaf.count > 0 ? leaf.ends[leaf.count - 1] : 0
            (parent.longest[i], parent.oldest[i]) = leaf.bounds(0..<leaf.count)
        } else {
            let inner = _Inner(child)
            var sum: UInt64 = 0
            var n = 0
            for j in 0..<inner.count { sum &+= inner.sums[j]; n &+= inner.counts[j] }
            parent.sums[i] = sum
            parent.counts[i] = n
            parent.lastEnds[i] = inner.lastEnds[inner.count - 1]
            (parent.longest[i], parent.oldest[i]) = inner.bounds()
        }
    }

    /// Replaces children `first..<first+k` of `parent` by `k2` nodes holding the same entries,
    /// evenly filled unless `firstCount` gives the first node's share (with `k2 == 2`), and
    /// rewrites the parent's entries for them. Keeps the leaf chain. O(capacity).
    private func redistribute(_ parent: _Inner, childLevel level: Int, first: Int, count k: Int, into k2: Int,
                              firstCount: Int? = nil) {
        let kind: _NodeKind = level == 0 ? .leaf : .inner
        let slots = level == 0 ? _Leaf.slots : _Inner.slots
        var nodes: (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) = (nil, nil, nil)
        func node(_ t: Int) -> UnsafeMutableRawPointer {
            switch t { case 0: return nodes.0!; case 1: return nodes.1!; default: return nodes.2! }
        }
        func setNode(_ t: Int, _ p: UnsafeMutableRawPointer) {
            switch t { case 0: nodes.0 = p; case 1: nodes.1 = p; default: nodes.2 = p }
        }
        var total = 0
        for t in 0..<k {
            let child = parent.children[first + t]
            setNode(t, child)
            let n = Self.count(child, level)
            _moveEntries(kind, from: child, slots, 0, to: scratch, Self.scratchSlots, total, count: n)
            total += n
        }
        let chainNext = level == 0 ? _Leaf(node(k - 1)).next : nil
        if k2 > k {
            for t in k..<k2 {
                setNode(t, level == 0 ? _Leaf.allocate().raw : _Inner.allocate().raw)
                if level == 0 { leafNodes += 1 } else { innerNodes += 1 }
            }
        } else if k2 < k {
            for t in k2..<k {
                node(t).deallocate()
                if level == 0 { leafNodes -= 1 } else { innerNodes -= 1 }
            }
        }
        var offset = 0
        for t in 0..<k2 {
            var m = total / k2 + (t < total % k2 ? 1 : 0)
            if let firstCount { m = t == 0 ? firstCount : total - firstCount }
            let dst = node(t)
            _moveEntries(kind, from: scratch, Self.scratchSlots, offset, to: dst, slots, 0, count: m)
            offset += m
            if level == 0 {
                _Leaf(dst).count = m
                _Leaf(dst).next = t + 1 < k2 ? node(t + 1) : chainNext
            } else {
                _Inner(dst).count = m
            }
        }
        // Parent entries: shift the tail, then write the k2 entries.
        let tail = parent.count - (first + k)
        if tail > 0 && k2 != k {
            _moveEntries(.inner, from: parent.raw, _Inner.slots, first + k, to: parent.raw, _Inner.slots, first + k2, count: tail)
        }
        parent.count += k2 - k
        for t in 0..<k2 { setEntry(parent, first + t, child: node(t), level: level) }
    }

    /// See `SharedRegionMap.markShared`. Returns the pages newly shared.
    func markShared(lower lo: UInt64, upper hi: UInt64, stamp: UInt32) -> UInt64 {
        let (leaf, j) = descend(endingAtOrAfter: lo)
        let n = leaf.count
        var k = j
        while k < n && leaf.start(k) <= hi { k += 1 }
        if k == n, let next = leaf.next, _Leaf(next).start(0) <= hi {
            return markSharedAcrossLeaves(lower: lo, upper: hi, stamp: stamp)
        }
        if k == j {
            leaf.replaceSlots(j, j, with: 1)
            leaf.set(j, start: lo, end: hi, approximate: false, first: stamp, last: stamp)
            finish(leaf, written: j..<j + 1, countDelta: 1, pageDelta: hi - lo, replaced: (0, UInt64(UInt32.max)))
            return hi - lo
        }
        let s0 = leaf.start(j), e1 = leaf.ends[k - 1]
        if k == j + 1 && s0 <= lo && e1 >= hi { return 0 }
        var old: UInt64 = 0
        var first = stamp
        var approximate = false
        for t in j..<k {
            old &+= leaf.length(t)
            first = Swift.min(first, leaf.first(t))
            approximate = approximate || leaf.isApproximate(t)
        }
        let ns = Swift.min(s0, lo), ne = Swift.max(e1, hi)
        leaf.replaceSlots(j, k, with: 1)
        leaf.set(j, start: ns, end: ne, approximate: approximate, first: first, last: stamp)
        let newly = (ne - ns) - old
        // The merged region contains the ones it replaces and has the oldest stamp among them.
        finish(leaf, written: j..<j + 1, countDelta: 1 - (k - j), pageDelta: newly, replaced: (0, UInt64(UInt32.max)))
        return newly
    }

    /// The general case of `markShared`, one region at a time by index. O(k log n).
    private func markSharedAcrossLeaves(lower lo: UInt64, upper hi: UInt64, stamp: UInt32) -> UInt64 {
        let a = rank(ofFirstRegionEndingAtOrAfter: lo)
        var merged = SharedRegion(pages: PageRange(lower: lo, upper: hi), firstShared: stamp, lastChange: stamp)
        var old: UInt64 = 0
        while a < count {
            let r = region(at: a)
            guard r.pages.lower <= hi else { break }
            if old == 0 && r.pages.lower <= lo && r.pages.upper >= hi { return 0 }  // already shared
            remove(at: a)
            old += r.pages.count
            merged.pages = PageRange(lower: Swift.min(merged.pages.lower, r.pages.lower), upper: Swift.max(merged.pages.upper, r.pages.upper))
            merged.firstShared = Swift.min(merged.firstShared, r.firstShared)
            merged.isApproximate = merged.isApproximate || r.isApproximate
        }
        insert(merged, at: a)
        return merged.pages.count - old
    }

    /// See `SharedRegionMap.markPrivate`. Returns the pages newly private.
    func markPrivate(lower lo: UInt64, upper hi: UInt64, stamp: UInt32) -> UInt64 {
        let (leaf, j) = descend(endingAtOrAfter: lo + 1)
        let n = leaf.count
        var k = j
        while k < n && leaf.start(k) < hi { k += 1 }
        if k == n, let next = leaf.next, _Leaf(next).start(0) < hi {
            return markPrivateAcrossLeaves(lower: lo, upper: hi, stamp: stamp)
        }
        if k == j { return 0 }
        let s0 = leaf.start(j), e1 = leaf.ends[k - 1]
        var old: UInt64 = 0
        for t in j..<k { old &+= leaf.length(t) }
        let keepLeft = s0 < lo, keepRight = e1 > hi
        let leftApproximate = leaf.isApproximate(j), leftFirst = leaf.first(j)
        let rightApproximate = leaf.isApproximate(k - 1), rightFirst = leaf.first(k - 1)
        let pieces = (keepLeft ? 1 : 0) + (keepRight ? 1 : 0)
        let replaced = leaf.bounds(j..<k)
        leaf.replaceSlots(j, k, with: pieces)
        var slot = j
        var kept: UInt64 = 0
        if keepLeft {
            leaf.set(slot, start: s0, end: lo, approximate: leftApproximate, first: leftFirst, last: stamp)
            kept += lo - s0
            slot += 1
        }
        if keepRight {
            leaf.set(slot, start: hi, end: e1, approximate: rightApproximate, first: rightFirst, last: stamp)
            kept += e1 - hi
        }
        let removed = old - kept
        finish(leaf, written: j..<j + pieces, countDelta: pieces - (k - j), pageDelta: 0 &- removed, replaced: replaced)
        return removed
    }

    /// The general case of `markPrivate`, one region at a time by index. O(k log n).
    private func markPrivateAcrossLeaves(lower lo: UInt64, upper hi: UInt64, stamp: UInt32) -> UInt64 {
        var a = rank(ofFirstRegionEndingAtOrAfter: lo + 1)
        var removed: UInt64 = 0
        var right: SharedRegion? = nil
        while a < count {
            var r = region(at: a)
            guard r.pages.lower < hi else { break }
            removed += r.pages.clamped(to: PageRange(lower: lo, upper: hi)).count
            if r.pages.upper > hi {
                var piece = r
                piece.pages.lower = hi
                piece.lastChange = stamp
                right = piece
            }
            if r.pages.lower < lo {
                r.pages.upper = lo
                r.lastChange = stamp
                replace(at: a, with: r)
                a += 1
            } else {
                remove(at: a)
            }
        }
        if let right { insert(right, at: a) }
        return removed
    }

    /// Merges the region at `index` with the next one into an approximate span. O(log n).
    func mergeWithNext(at index: Int, stamp: UInt32) {
        let next = region(at: index + 1)
        var r = region(at: index)
        remove(at: index + 1)
        r.pages.upper = next.pages.upper
        r.isApproximate = true
        r.firstShared = Swift.min(r.firstShared, next.firstShared)
        r.lastChange = stamp
        replace(at: index, with: r)
    }

    private func remove(at index: Int) {
        let (leaf, j) = descend(toIndex: index)
        let length = leaf.length(j)
        let replaced = leaf.bounds(j..<j + 1)
        leaf.replaceSlots(j, j + 1, with: 0)
        finish(leaf, written: j..<j, countDelta: -1, pageDelta: 0 &- length, replaced: replaced)
    }

    private func insert(_ r: SharedRegion, at index: Int) {
        let (leaf, j) = descend(toIndex: index)
        leaf.replaceSlots(j, j, with: 1)
        leaf.set(j, r)
        finish(leaf, written: j..<j + 1, countDelta: 1, pageDelta: r.pages.count, replaced: (0, UInt64(UInt32.max)))
    }

    private func replace(at index: Int, with r: SharedRegion) {
        let (leaf, j) = descend(toIndex: index)
        let old = leaf.length(j)
        let replaced = leaf.bounds(j..<j + 1)
        leaf.set(j, r)
        finish(leaf, written: j..<j + 1, countDelta: 0, pageDelta: r.pages.count &- old, replaced: replaced)
    }

    // MARK: Invariants

    /// Full structural check (see `SharedRegionMap.checkInvariants`). Returns whether any region
    /// is approximate. O(n).
    func checkInvariants() -> Bool {
        var previousEnd: UInt64? = nil
        var leaves: [UnsafeMutableRawPointer] = []
        var anyApproximate = false
        var inners = 0
        // `isEdge`: the first or last node of its level, which may hold less than `minimum`.
        func check(_ node: UnsafeMutableRawPointer, level: Int, isRoot: Bool,
                   isFirst: Bool, isLast: Bool) -> (count: Int, sum: UInt64, lastEnd: UInt64?, longest: UInt64, oldest: UInt64) {
            let isEdge = isFirst || isLast
            if level == 0 {
                let leaf = _Leaf(node)
                let n = leaf.count
                precondition(n <= _Leaf.capacity, "leaf over capacity: \(n)")
                precondition(isRoot || n >= (isEdge ? 1 : _Leaf.minimum), "leaf under minimum: \(n)")
                leaves.append(node)
                var sum: UInt64 = 0
                var longest: UInt64 = 0, oldest = UInt64(UInt32.max)
                for j in 0..<n {
                    let s = leaf.start(j), e = leaf.ends[j]
                    longest = Swift.max(longest, e - s)
                    oldest = Swift.min(oldest, UInt64(leaf.first(j)))
                    precondition(s < e && e <= PageRange.maxPage, "bad region \(s)..<\(e)")
                    if let p = previousEnd { precondition(p < s, "regions overlap or touch at \(p)..\(s)") }
                    previousEnd = e
                    sum += e - s
                    anyApproximate = anyApproximate || leaf.isApproximate(j)
                }
                return (n, sum, n > 0 ? leaf.ends[n - 1] : nil, longest, oldest)
            }
            inners += 1
            let inner = _Inner(node)
            let n = inner.count
            precondition(n <= _Inner.capacity, "inner node over capacity: \(n)")
            precondition(n >= (isRoot ? 2 : (isEdge ? 1 : _Inner.minimum)), "inner node under minimum: \(n)")
            var total = 0
            var sum: UInt64 = 0
            var last: UInt64? = nil
            var longest: UInt64 = 0, oldest = UInt64(UInt32.max)
            for i in 0..<n {
                let sub = check(inner.children[i], level: level - 1, isRoot: false,
                                isFirst: isFirst && i == 0, isLast: isLast && i == n - 1)
                precondition(sub.count == inner.counts[i], "stale count")
                precondition(sub.sum == inner.sums[i], "stale page sum")
                precondition(sub.lastEnd == inner.lastEnds[i], "stale last end")
                precondition(sub.longest == inner.longest[i], "stale longest region: \(inner.longest[i]) != \(sub.longest)")
                precondition(sub.oldest == inner.oldest[i], "stale oldest stamp: \(inner.oldest[i]) != \(sub.oldest)")
                total += sub.count
                sum += sub.sum
                last = sub.lastEnd
                longest = Swift.max(longest, sub.longest)
                oldest = Swift.min(oldest, sub.oldest)
            }
            return (total, sum, last, longest, oldest)
        }
        let (n, sum, _, _, _) = check(root, level: height, isRoot: true, isFirst: true, isLast: true)
        precondition(n == count, "cached count \(count) != \(n)")
        precondition(sum == sharedPages, "cached shared pages \(sharedPages) != \(sum)")
        precondition(leaves.count == leafNodes && inners == innerNodes, "node accounting off")
        var leaf: UnsafeMutableRawPointer? = firstLeaf
        for l in leaves {
            precondition(leaf == l, "leaf chain out of order")
            leaf = _Leaf(l).next
        }
        precondition(leaf == nil, "leaf chain runs past the last leaf")
        return anyApproximate
    }
}

/// The largest of `value(0..<count)`, returning early at the first that reaches `limit`.
@inline(__always)
private func _largest(_ count: Int, stoppingAt limit: UInt64, _ value: (Int) -> UInt64) -> UInt64 {
    var best: UInt64 = 0
    for t in 0..<count {
        let v = value(t)
        if v >= limit { return v }
        best = Swift.max(best, v)
    }
    return best
}

/// The smallest of `value(0..<count)` (an empty set gives the largest stamp), returning early at
/// the first that reaches `limit`.
@inline(__always)
private func _smallest(_ count: Int, stoppingAt limit: UInt64, _ value: (Int) -> UInt64) -> UInt64 {
    var best = UInt64(UInt32.max)
    for t in 0..<count {
        let v = value(t)
        if v <= limit { return v }
        best = Swift.min(best, v)
    }
    return best
}
