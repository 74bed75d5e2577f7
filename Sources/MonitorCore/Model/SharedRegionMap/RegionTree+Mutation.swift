// Mutations: descents that record the path, leaf edits, and the path refresh after them.

extension _RegionTree {
    /// Descends to the first region ending at or after `page`, recording the path.
    /// Returns the leaf and the slot (the leaf's count when past its last region: only in the
    /// last leaf). O(log n).
    ///
    /// When `page` falls in the cursor's leaf, the recorded path is already the one a descent
    /// would record (see `cursorLeaf`), so only the leaf is searched.
    @inline(__always)
    func descend(endingAtOrAfter page: UInt64) -> (_Leaf, Int) {
        if let c = cursorLeaf, page >= cursorLow {
            let leaf = _Leaf(c)
            let n = leaf.count
            if n > 0 && (cursorIsLast || page <= leaf.ends[n &- 1]) {
                return (leaf, leaf.firstSlot(endingAtOrAfter: page))
            }
        }
        var node = root
        var level = height
        var low: UInt64 = 0
        var isLast = true
        while level > 0 {
            let inner = _Inner(node)
            let i = inner.child(endingAtOrAfter: page)
            pathNodes[level] = node
            pathSlots[level] = i
            // The lowest level with a left sibling gives the tightest lower bound.
            if i > 0 { low = inner.lastEnds[i &- 1] &+ 1 }
            isLast = isLast && i == inner.count &- 1
            node = inner.children[i]
            level -= 1
            // In a large tree the leaf is a memory round trip away: request all its lines at once
            // rather than the count first and the columns after it. (The inner nodes stay cached;
            // prefetching them too cost more than it saved.) A small tree's leaves are in cache,
            // where the 25 prefetches are only instructions.
            if level == 0 && leafNodes >= Self.prefetchingLeafCount { _Leaf(node).prefetch() }
        }
        cursorLeaf = node
        cursorLow = low
        cursorIsLast = isLast
        let leaf = _Leaf(node)
        return (leaf, leaf.firstSlot(endingAtOrAfter: page))
    }

    /// Descends to the slot of the region at `index` (0...count), recording the path. O(log n).
    func descend(toIndex index: Int) -> (_Leaf, Int) {
        // The cursor's bounds are not tracked here; the next page descent starts from the root.
        cursorLeaf = nil
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
    func finish(_ leaf: _Leaf, written: Range<Int>, countDelta: Int, pageDelta: UInt64,
                        replaced: (longest: UInt64, oldest: UInt64)) {
        count &+= countDelta
        sharedPages &+= pageDelta
        if !boundsDeferred { refreshBounds(leaf, written: written, replaced: replaced) }
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
        else if countDelta < 0 && n < refill(0) && height > 0 { rebalance(overflowAt: 0..<0, leafCount: n) }
    }

    /// The longest/oldest part of `finish`: refreshes the bounds along the recorded path, from
    /// the leaf up to the first level where they did not change.
    @inline(never)
    func refreshBounds(_ leaf: _Leaf, written: Range<Int>, replaced: (longest: UInt64, oldest: UInt64)) {
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
    static func longest(_ node: UnsafeMutableRawPointer, level: Int, atMost limit: UInt64, leaf: _Leaf) -> UInt64 {
        level == 0 ? leaf.longest(atMost: limit) : _Inner(node).longest(atMost: limit)
    }

    /// A node's oldest stamp, stopping at one equal to `limit`. O(capacity).
    @inline(never)
    static func oldest(_ node: UnsafeMutableRawPointer, level: Int, atLeast limit: UInt64, leaf: _Leaf) -> UInt64 {
        level == 0 ? leaf.oldest(atLeast: limit) : _Inner(node).oldest(atLeast: limit)
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
    func markSharedAcrossLeaves(lower lo: UInt64, upper hi: UInt64, stamp: UInt32) -> UInt64 {
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
        let replaced = boundsDeferred ? (longest: 0, oldest: UInt64(UInt32.max)) : leaf.bounds(j..<k)
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
    func markPrivateAcrossLeaves(lower lo: UInt64, upper hi: UInt64, stamp: UInt32) -> UInt64 {
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

    /// The cap merge of `SharedRegionMap` (fill the smallest gap beside the `pieces` regions from
    /// the first one ending at or after `page`, ties to the lower address) done in the cursor's
    /// leaf, when `page` is routed there and the regions compared, one each side included, all
    /// sit in it: then the candidates are the same as by index. Returns false, changing nothing,
    /// otherwise. O(capacity) plus the path refresh.
    func mergeSmallestGapInCursorLeaf(aroundFirstRegionEndingAtOrAfter page: UInt64, pieces: Int, stamp: UInt32) -> Bool {
        guard let c = cursorLeaf, page >= cursorLow else { return false }
        let leaf = _Leaf(c)
        let n = leaf.count
        guard n > 0 && (cursorIsLast || page <= leaf.ends[n &- 1]) else { return false }
        let j = leaf.firstSlot(endingAtOrAfter: page)
        guard j >= 1 && j &+ pieces < n else { return false }
        var best = j &- 1
        var bestGap = leaf.start(j) &- leaf.ends[j &- 1]
        for i in j..<(j &+ pieces) {
            let gap = leaf.start(i &+ 1) &- leaf.ends[i]
            if gap < bestGap { bestGap = gap; best = i }
        }
        let start = leaf.start(best), end = leaf.ends[best &+ 1]
        let first = Swift.min(leaf.first(best), leaf.first(best &+ 1))
        leaf.replaceSlots(best, best &+ 2, with: 1)
        leaf.set(best, start: start, end: end, approximate: true, first: first, last: stamp)
        // The merged span contains both regions; the gap's pages count as shared.
        finish(leaf, written: best..<best &+ 1, countDelta: -1, pageDelta: bestGap, replaced: (0, UInt64(UInt32.max)))
        return true
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

    func remove(at index: Int) {
        let (leaf, j) = descend(toIndex: index)
        let length = leaf.length(j)
        let replaced = leaf.bounds(j..<j + 1)
        leaf.replaceSlots(j, j + 1, with: 0)
        finish(leaf, written: j..<j, countDelta: -1, pageDelta: 0 &- length, replaced: replaced)
    }

    func insert(_ r: SharedRegion, at index: Int) {
        let (leaf, j) = descend(toIndex: index)
        leaf.replaceSlots(j, j, with: 1)
        leaf.set(j, r)
        finish(leaf, written: j..<j + 1, countDelta: 1, pageDelta: r.pages.count, replaced: (0, UInt64(UInt32.max)))
    }

    func replace(at index: Int, with r: SharedRegion) {
        let (leaf, j) = descend(toIndex: index)
        let old = leaf.length(j)
        let replaced = leaf.bounds(j..<j + 1)
        leaf.set(j, r)
        finish(leaf, written: j..<j + 1, countDelta: 0, pageDelta: r.pages.count &- old, replaced: replaced)
    }
}
