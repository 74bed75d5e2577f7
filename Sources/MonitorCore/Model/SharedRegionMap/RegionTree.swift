/// The B+tree behind `SharedRegionMap`: owns every node and frees them in `deinit`.
///
/// `@unchecked Sendable` is safe because the tree is only mutated through `SharedRegionMap`'s
/// mutating methods, which first make the map's reference unique (`isKnownUniquelyReferenced`,
/// copying otherwise). A tree reachable from more than one value or thread is therefore never
/// written, and the read paths use no shared scratch state (the path, the last-leaf cursor and
/// the scratch buffers are written only by mutations). Iterators hold a reference too, so they also force a copy.
final class _RegionTree: @unchecked Sendable {
    static let maxHeight = 32
    static let scratchSlots = 3 * (_Leaf.slots + _Inner.slots)
    /// From this many leaves (1.6 MB, more than a core's L2 cache here) a page descent
    /// prefetches its leaf.
    static let prefetchingLeafCount = 1_024

    /// The root: a leaf when `height == 0`, else an inner node `height` levels above the leaves.
    var root: UnsafeMutableRawPointer
    var height = 0
    var count = 0
    var sharedPages: UInt64 = 0
    var leafNodes = 1
    var innerNodes = 0
    /// The inner nodes and child slots of the last mutating descent, indexed by level (1...height).
    let pathNodes: UnsafeMutablePointer<UnsafeMutableRawPointer>
    let pathSlots: UnsafeMutablePointer<Int>
    /// Room for the entries of up to three nodes while they are redistributed.
    let scratch: UnsafeMutableRawPointer
    /// The last-leaf cursor: the leaf at the end of the recorded path when that path came from
    /// `descend(endingAtOrAfter:)` and no structural change (rebalance, index descent) has
    /// happened since, else nil. A later page in `cursorLow...` (and at most the leaf's last end
    /// unless `cursorIsLast`) would descend to the same leaf by the same path, so the descent is
    /// skipped: consecutive conversions of a trace often touch the same leaf.
    var cursorLeaf: UnsafeMutableRawPointer?
    /// The previous leaf's last end plus one (0 for the first leaf): the smallest page routed here.
    var cursorLow: UInt64 = 0
    /// The cursor's leaf is the last one: no upper bound.
    var cursorIsLast = false
    /// While set, edits leave the inner nodes' longest/oldest bounds (only the top-k queries read
    /// them) stale, and `endDeferredBounds` recomputes them all: for a run of many updates to a
    /// small tree, one pass over its regions costs less than refreshing a path per update.
    var boundsDeferred = false

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

    static func free(_ node: UnsafeMutableRawPointer, level: Int) {
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

    static func clone(_ node: UnsafeMutableRawPointer, level: Int, previousLeaf: inout _Leaf?) -> UnsafeMutableRawPointer {
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
    static func leafPrefix(_ leaf: _Leaf, below page: UInt64) -> UInt64 {
        let n = leaf.count
        var sum: UInt64 = 0
        var j = 0
        while j < n && leaf.ends[j] <= page { sum &+= leaf.length(j); j += 1 }
        if j < n && leaf.start(j) < page { sum &+= page - leaf.start(j) }
        return sum
    }
}
