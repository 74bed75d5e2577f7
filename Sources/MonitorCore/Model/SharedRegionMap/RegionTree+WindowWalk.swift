// The window query's walk: prefix sums at many sorted points, leaves visited a few behind the
// walk so that their lines are already on the way when they are read.

import CPrefetch

extension _RegionTree {
    /// Replaces each of the ascending `points` by the number of shared pages below it, in one
    /// walk that splits the points among the children. O(c log(n/c) + L) for c points and L
    /// regions in the leaves they fall in.
    func sharedPages(below points: inout [UInt64]) {
        points.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            withUnsafeTemporaryAllocation(of: _LeafVisit.self, capacity: _LeafVisits.depth) { ring in
                var visits = _LeafVisits(ring: ring.baseAddress!)
                Self.prefixes(root, level: height, points: base, count: buffer.count, offset: 0, total: sharedPages,
                              visits: &visits)
                visits.finish()
            }
        }
    }

    /// `offset` is the shared pages before `node`, `total` those inside it. Leaves are handed to
    /// `visits`, which answers their points later.
    static func prefixes(_ node: UnsafeMutableRawPointer, level: Int, points: UnsafeMutablePointer<UInt64>, count: Int,
                         offset: UInt64, total: UInt64, visits: inout _LeafVisits) {
        if level == 0 {
            visits.add(_LeafVisit(leaf: node, points: points, count: count, offset: offset, total: total))
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
            prefixes(inner.children[i], level: level - 1, points: points + p, count: q - p, offset: sum,
                     total: inner.sums[i], visits: &visits)
            p = q
        }
    }
}

/// The points of one leaf waiting to be answered: `offset` shared pages before the leaf, `total`
/// in it.
struct _LeafVisit {
    var leaf: UnsafeMutableRawPointer
    var points: UnsafeMutablePointer<UInt64>
    var count: Int
    var offset: UInt64
    var total: UInt64
}

/// A ring of the last `depth` leaf visits: each is prefetched when added and answered when
/// `depth` later ones have been added. A window over a large map visits thousands of leaves
/// scattered in memory; answered in turn, each leaf's lines would be one memory round trip
/// after another, while the walk above knows the next leaves long before it reads them.
struct _LeafVisits {
    static let depth = 8
    let ring: UnsafeMutablePointer<_LeafVisit>
    var next = 0
    var size = 0

    init(ring: UnsafeMutablePointer<_LeafVisit>) { self.ring = ring }

    @inline(__always)
    mutating func add(_ visit: _LeafVisit) {
        // The header and the start and end columns: all the answer reads.
        _prefetch(visit.leaf, byteCount: 16 + 16 * _Leaf.slots)
        if size == Self.depth {
            Self.answer(ring[next])
        } else {
            size += 1
        }
        ring[next] = visit
        next = next == Self.depth - 1 ? 0 : next + 1
    }

    /// Answers the visits still waiting.
    mutating func finish() {
        var k = (next - size + Self.depth) % Self.depth
        for _ in 0..<size {
            Self.answer(ring[k])
            k = k == Self.depth - 1 ? 0 : k + 1
        }
        size = 0
    }

    /// Replaces the visit's points by the shared pages below each.
    static func answer(_ visit: _LeafVisit) {
        let leaf = _Leaf(visit.leaf)
        let n = leaf.count
        let points = visit.points
        let count = visit.count
        if count > 2 {
            // Many points: one merge of points and regions.
            var j = 0
            var sum = visit.offset
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
                below = visit.total
                for t in j..<n { below &-= leaf.length(t) }
            }
            if j < n && leaf.start(j) < x { below &+= x &- leaf.start(j) }
            points[p] = visit.offset &+ below
        }
    }
}
