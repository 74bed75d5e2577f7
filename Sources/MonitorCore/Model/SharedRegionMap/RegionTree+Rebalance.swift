// Rebalancing: restores node fill bounds after an edit; splits, spills, merges.

extension _RegionTree {
    static func capacity(_ level: Int) -> Int { level == 0 ? _Leaf.capacity : _Inner.capacity }
    /// The fill below which a deletion rebalances a node: 2/3 (memory per region) except for
    /// the leaves of a small tree, where it is the minimum: a small map's bytes do not matter,
    /// and with few leaves near 2/3 full most deletions would otherwise move half a leaf.
    func refill(_ level: Int) -> Int {
        level == 0 ? (leafNodes < Self.compactLeafCount ? _Leaf.minimum : _Leaf.refill) : _Inner.refill
    }
    /// From this many leaves (about 2,700 regions) leaves are kept 2/3 full.
    static let compactLeafCount = 64
    static func minimum(_ level: Int) -> Int { level == 0 ? _Leaf.minimum : _Inner.minimum }
    /// A sibling takes part of an overflowing node only if it has this much room, so that each
    /// O(capacity) spill buys several cheap inserts.
    static func spillRoom(_ level: Int) -> Int { 4 }
    static func count(_ node: UnsafeMutableRawPointer, _ level: Int) -> Int {
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
    func rebalance(overflowAt written: Range<Int>, leafCount: Int) {
        // Nodes move, split and merge: the recorded path and the cursor's bounds are stale.
        cursorLeaf = nil
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
                splitOrSpill(parent, child: c, level: level)
            } else if !grew && n < refill(level) {
                refillOrMerge(parent, child: c, count: n, level: level)
            }
            guard parent.count != parentCount else { break }
            grew = parent.count > parentCount
            if !grew { edge = .none }
            level += 1
        }
        fixRoot(edge: edge)
    }

    /// Overflow of child `c`: spill into the emptier sibling when it has room, else split up to
    /// four nearly full nodes into one more.
    private func splitOrSpill(_ parent: _Inner, child c: Int, level: Int) {
        let cap = Self.capacity(level)
        let left = c > 0 ? Self.count(parent.children[c - 1], level) : Int.max
        let right = c + 1 < parent.count ? Self.count(parent.children[c + 1], level) : Int.max
        if Swift.min(left, right) <= cap - Self.spillRoom(level) {
            redistribute(parent, childLevel: level, first: left <= right ? c - 1 : c, count: 2, into: 2)
        } else if parent.count > 2 {
            // Up to four nearly full nodes into one more (4/5 full, not 2/3 as from two
            // into three): fewer bytes a region when updates churn in place.
            let k = Swift.min(parent.count, 4)
            redistribute(parent, childLevel: level, first: Swift.max(0, Swift.min(c - 1, parent.count - k)), count: k, into: k + 1)
        } else if parent.count > 1 {
            redistribute(parent, childLevel: level, first: c > 0 ? c - 1 : c, count: 2, into: 3)
        } else {
            redistribute(parent, childLevel: level, first: c, count: 1, into: 2)
        }
    }

    /// Underflow of child `c` (holding `n`) below 2/3 full.
    private func refillOrMerge(_ parent: _Inner, child c: Int, count n: Int, level: Int) {
        let cap = Self.capacity(level)
        // Underflow below 2/3: borrow from the fuller sibling when that brings both to
        // 2/3; else merge three nodes into two (or share among the three when they do not
        // fit in two); a lone pair merges into one when it fits. Siblings hold at least
        // `minimum` or sit at an edge (a lone pair then merges or shares), so every result
        // holds at least `minimum` too.
        let pc = parent.count
        let refill = refill(level)
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

    /// The root has no lower fill bound; split it when full, drop it when it has one child.
    private func fixRoot(edge: Edge) {
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
    func setEntry(_ parent: _Inner, _ i: Int, child: UnsafeMutableRawPointer, level: Int) {
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
    func redistribute(_ parent: _Inner, childLevel level: Int, first: Int, count k: Int, into k2: Int,
                              firstCount: Int? = nil) {
        let kind: _NodeKind = level == 0 ? .leaf : .inner
        let slots = level == 0 ? _Leaf.slots : _Inner.slots
        var nodes: (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?,
                    UnsafeMutableRawPointer?) = (nil, nil, nil, nil, nil)
        func node(_ t: Int) -> UnsafeMutableRawPointer {
            switch t {
            case 0: return nodes.0!
            case 1: return nodes.1!
            case 2: return nodes.2!
            case 3: return nodes.3!
            default: return nodes.4!
            }
        }
        func setNode(_ t: Int, _ p: UnsafeMutableRawPointer) {
            switch t { case 0: nodes.0 = p; case 1: nodes.1 = p; case 2: nodes.2 = p; case 3: nodes.3 = p; default: nodes.4 = p }
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
}
