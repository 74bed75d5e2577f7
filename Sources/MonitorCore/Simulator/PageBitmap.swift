/// One bit per guest page of `0 ..< pageCount`: the simulator's exact shared set, dirty log and
/// last-synced shared set. Word-at-a-time operations, so a resync of a 4 GiB guest (1.5 M pages
/// with the PCI hole) costs a few tens of thousands of word operations.
struct PageBitmap: Sendable, Equatable {
    private(set) var words: [UInt64]
    let pageCount: UInt64

    init(pageCount: UInt64) {
        self.pageCount = pageCount
        words = Array(repeating: 0, count: Int((pageCount + 63) / 64))
    }

    func contains(_ page: UInt64) -> Bool {
        page < pageCount && words[Int(page >> 6)] & (1 << (page & 63)) != 0
    }

    /// Sets one bit; true when it was clear. O(1).
    @discardableResult
    mutating func insert(_ page: UInt64) -> Bool {
        let i = Int(page >> 6), bit: UInt64 = 1 << (page & 63)
        if words[i] & bit != 0 { return false }
        words[i] |= bit
        return true
    }

    /// Sets (`value` true) or clears the bits of `range`; returns how many bits changed.
    /// O(range.count / 64).
    @discardableResult
    mutating func assign(_ range: PageRange, to value: Bool) -> UInt64 {
        let lo = range.lower, hi = Swift.min(range.upper, pageCount)
        guard lo < hi else { return 0 }
        var changed: UInt64 = 0
        var p = lo
        while p < hi {
            let w = Int(p >> 6), off = p & 63
            let n = Swift.min(64 - off, hi - p)
            let mask: UInt64 = (n == 64 ? ~0 : ((1 << n) - 1)) << off
            let old = words[w]
            words[w] = value ? old | mask : old & ~mask
            changed += UInt64((old ^ words[w]).nonzeroBitCount)
            p += n
        }
        return changed
    }

    mutating func removeAll() {
        for i in words.indices { words[i] = 0 }
    }

    var count: UInt64 { words.reduce(0) { $0 + UInt64($1.nonzeroBitCount) } }

    /// Maximal runs of set bits (what a range list must hold). O(words).
    var runCount: Int {
        var runs = 0
        var carry: UInt64 = 0  // top bit of the previous word
        for w in words {
            // A run starts at a set bit whose lower neighbour is clear.
            runs += (w & ~((w << 1) | carry)).nonzeroBitCount
            carry = w >> 63
        }
        return runs
    }

    /// |self xor other|. O(words).
    func differenceCount(_ other: PageBitmap) -> UInt64 {
        var n: UInt64 = 0
        for i in words.indices { n += UInt64((words[i] ^ other.words[i]).nonzeroBitCount) }
        return n
    }

    /// |(self xor other) minus exclude|: pages that changed and are not already covered.
    func differenceCount(_ other: PageBitmap, excluding exclude: PageBitmap) -> UInt64 {
        var n: UInt64 = 0
        for i in words.indices { n += UInt64(((words[i] ^ other.words[i]) & ~exclude.words[i]).nonzeroBitCount) }
        return n
    }

    /// |(a or (b xor c)) and self|: of the pages a pass sends (dirty, or changed state), how many
    /// are set here (shared).
    func intersectionCount(dirty a: PageBitmap, changedBetween b: PageBitmap, and c: PageBitmap) -> UInt64 {
        var n: UInt64 = 0
        for i in words.indices { n += UInt64(((a.words[i] | (b.words[i] ^ c.words[i])) & words[i]).nonzeroBitCount) }
        return n
    }

    /// Runs of set bits as page ranges, in order. O(words + runs).
    var ranges: [PageRange] {
        var out: [PageRange] = []
        var start: UInt64? = nil
        for (i, w) in words.enumerated() {
            if w == 0 {
                if let s = start { out.append(PageRange(lower: s, upper: UInt64(i) * 64)); start = nil }
                continue
            }
            if w == ~0 { if start == nil { start = UInt64(i) * 64 }; continue }
            for b in 0..<UInt64(64) {
                let set = w & (1 << b) != 0, p = UInt64(i) * 64 + b
                if set, start == nil { start = p }
                if !set, let s = start { out.append(PageRange(lower: s, upper: p)); start = nil }
            }
        }
        if let s = start { out.append(PageRange(lower: s, upper: Swift.min(pageCount, UInt64(words.count) * 64))) }
        return out
    }
}
