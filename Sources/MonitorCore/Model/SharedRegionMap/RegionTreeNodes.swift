// The node layouts of the region tree: raw, column-major, sized for a few cache lines.

import CPrefetch

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

    /// Starts loading every line of the leaf at once, before the scan that would otherwise load
    /// the count first and the columns after it, each a memory round trip in a large tree.
    @inline(__always) func prefetch() { _prefetch(raw, byteCount: Self.byteCount) }

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

    /// First slot whose end is >= `page`, or `count`. For updates: counting the smaller ends
    /// vectorizes, never mispredicts and loads the column's lines in parallel, which beats a
    /// binary search's chain of dependent loads and unpredictable branches. The ends are
    /// sorted, so the last end of each block of 16 says whether the whole block counts: the
    /// three block ends are counted first, then only the one block they point at, a quarter
    /// of the column. Searches run between edits, with at most `capacity` (64) slots: four blocks.
    @inline(__always) func firstSlot(endingAtOrAfter page: UInt64) -> Int {
        let n = count
        let e = ends
        // Block b (slots 16b..<16b+16) counts whole when its last slot exists and ends below
        // `page`; a slot past `count` holds garbage, so the existence test masks it.
        let m = UInt64(truncatingIfNeeded: n)
        let b = (_less(e[15], page) & _less(15, m)) &+ (_less(e[31], page) & _less(31, m)) &+ (_less(e[47], page) & _less(47, m))
        let lower = b &<< 4
        let upper = Swift.min(n, lower &+ 16)
        var c = lower
        var t = lower
        while t < upper { c &+= _less(e[t], page); t &+= 1 }
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
        let tail = n &- j
        if m != j &- i && tail > 0 {
            if tail <= Self.inlineShift {
                shiftInline(from: j, to: i &+ m, count: tail)
            } else {
                _moveEntries(.leaf, from: raw, Self.slots, j, to: raw, Self.slots, i &+ m, count: tail)
            }
        }
        count = n &- (j &- i) &+ m
    }

    /// Shifts up to this many slots with an inline loop over the three columns at once: three
    /// out-of-line `memmove` calls cost more than the copy itself for short tails.
    static let inlineShift = 16

    /// Moves slots `src..<src+count` to `dst...` (overlapping), all three columns per step.
    @inline(__always) private func shiftInline(from src: Int, to dst: Int, count: Int) {
        let s = starts, e = ends, st = stamps
        if dst > src {
            var t = count
            while t > 0 {
                t &-= 1
                s[dst &+ t] = s[src &+ t]; e[dst &+ t] = e[src &+ t]; st[dst &+ t] = st[src &+ t]
            }
        } else {
            for t in 0..<count {
                s[dst &+ t] = s[src &+ t]; e[dst &+ t] = e[src &+ t]; st[dst &+ t] = st[src &+ t]
            }
        }
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
        // Counting instead of stopping early vectorizes and never mispredicts; as in a leaf,
        // the first block of 16 counts whole when its last end (if compared at all) is below;
        // searches run between edits, with at most `capacity` (32) children: two blocks.
        let n = count &- 1
        let e = lastEnds
        let lower = (_less(e[15], page) & _less(15, UInt64(truncatingIfNeeded: n))) &<< 4
        let upper = Swift.min(n, lower &+ 16)
        var i = lower
        var t = lower
        while t < upper { i &+= _less(e[t], page); t &+= 1 }
        return i
    }
}

/// 1 when `a < b`, else 0, for values below 2^63 (pages are below 2^53): the borrow bit of
/// `a - b`. Plain `<` in a select gets turned into a branch, which random keys mispredict.
@inline(__always)
func _less(_ a: UInt64, _ b: UInt64) -> Int { Int(truncatingIfNeeded: (a &- b) >> 63) }

enum _NodeKind { case leaf, inner }

/// Prefetches the lines of `byteCount` bytes from `raw`.
@inline(__always)
func _prefetch(_ raw: UnsafeMutableRawPointer, byteCount: Int) {
    var offset = 0
    while offset < byteCount {
        encmon_prefetch(raw + offset)
        offset &+= 64
    }
    // The last line, when `raw` is not line-aligned.
    encmon_prefetch(raw + (byteCount &- 1))
}

/// memmove of `count` entries between (possibly the same) nodes of possibly different slot counts.
/// Both layouts are 16 header bytes then 8-byte columns: 3 in a leaf, 6 in an inner node.
@inline(__always)
func _moveEntries(_ kind: _NodeKind, from src: UnsafeMutableRawPointer, _ srcSlots: Int, _ srcIndex: Int,
                          to dst: UnsafeMutableRawPointer, _ dstSlots: Int, _ dstIndex: Int, count: Int) {
    guard count > 0 else { return }
    for c in 0..<(kind == .leaf ? 3 : _Inner.columns) {
        (dst + 16 + 8 * (c * dstSlots + dstIndex)).copyMemory(from: src + 16 + 8 * (c * srcSlots + srcIndex), byteCount: 8 * count)
    }
}

/// The largest of `value(0..<count)`, returning early at the first that reaches `limit`.
@inline(__always)
func _largest(_ count: Int, stoppingAt limit: UInt64, _ value: (Int) -> UInt64) -> UInt64 {
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
func _smallest(_ count: Int, stoppingAt limit: UInt64, _ value: (Int) -> UInt64) -> UInt64 {
    var best = UInt64(UInt32.max)
    for t in 0..<count {
        let v = value(t)
        if v <= limit { return v }
        best = Swift.min(best, v)
    }
    return best
}
