// The invariant checker behind `SharedRegionMap.checkInvariants()`.

extension _RegionTree {
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
                // Deferred bounds are stale until `endDeferredBounds`, by design.
                precondition(boundsDeferred || sub.longest == inner.longest[i], "stale longest region: \(inner.longest[i]) != \(sub.longest)")
                precondition(boundsDeferred || sub.oldest == inner.oldest[i], "stale oldest stamp: \(inner.oldest[i]) != \(sub.oldest)")
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
        checkCursor(leaves)
        return anyApproximate
    }

    /// The cursor, when set, must be what a fresh descent gives: its leaf at the end of the
    /// recorded path, its bounds those of the pages routed to that leaf.
    private func checkCursor(_ leaves: [UnsafeMutableRawPointer]) {
        guard let c = cursorLeaf else { return }
        var node = root
        var level = height
        while level > 0 {
            precondition(pathNodes[level] == node, "cursor path stale at level \(level)")
            let inner = _Inner(node)
            precondition(pathSlots[level] < inner.count, "cursor path slot out of range at level \(level)")
            node = inner.children[pathSlots[level]]
            level -= 1
        }
        precondition(node == c, "cursor leaf is not at the end of the recorded path")
        guard let at = leaves.firstIndex(of: c) else { preconditionFailure("cursor leaf not in the tree") }
        let previousEnd = at > 0 ? _Leaf(leaves[at - 1]).ends[_Leaf(leaves[at - 1]).count - 1] + 1 : 0
        precondition(cursorLow == previousEnd, "cursor lower bound \(cursorLow) != \(previousEnd)")
        precondition(cursorIsLast == (at == leaves.count - 1), "cursor last-leaf flag stale")
    }
}
