// Top-k queries: best-first search over the per-child longest/oldest bounds.

extension _RegionTree {
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
        assert(!boundsDeferred, "top-k query while the bounds are deferred")
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
}

extension _RegionTree {
    /// Ends `boundsDeferred`: every inner entry's longest/oldest bound from its subtree, bottom
    /// up. O(n).
    func endDeferredBounds() {
        boundsDeferred = false
        if height > 0 { _ = Self.recomputeBounds(root, level: height) }
    }

    /// Rewrites the bounds of `node`'s entries (an inner node `level` above the leaves) and
    /// returns the node's own.
    static func recomputeBounds(_ node: UnsafeMutableRawPointer, level: Int) -> (longest: UInt64, oldest: UInt64) {
        let inner = _Inner(node)
        for i in 0..<inner.count {
            let child = inner.children[i]
            let b = level == 1 ? _Leaf(child).bounds(0..<_Leaf(child).count) : recomputeBounds(child, level: level - 1)
            inner.longest[i] = b.longest
            inner.oldest[i] = b.oldest
        }
        return inner.bounds()
    }
}
