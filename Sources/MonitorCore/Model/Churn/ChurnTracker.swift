/// A buffer that was made shared and then private again within `window`: one flip.
public struct FlippedBuffer: Sendable, Hashable {
    public var pages: PageRange
    public var flips: UInt64
    public var lastFlip: EventTime
}

/// What a guest-side pool of `poolPages` pages kept shared would have saved.
public struct PoolWhatIf: Sendable, Hashable {
    public var poolPages: UInt64
    /// Conversions (hypercalls) the pool would have avoided: two per flip it could serve.
    public var conversionsAvoided: UInt64
    /// Share of all observed conversions.
    public var fractionOfConversions: Double
}

/// Detects churn: buffers (identified by first page and size, as DMA mappings are undone with
/// the same arguments) made shared and private again within `window` seconds.
///
/// O(1) expected per conversion (one probe of a flat table with a per-process seeded hash, see
/// `ChurnTable`); memory bounded by `maxTracked` entries (stale entries are dropped first),
/// so a hostile guest cannot grow it.
public struct ChurnTracker: Sendable {
    struct Entry: Sendable, Codable {
        var pages: UInt64
        var sharedAt: EventTime
        var isShared: Bool
        /// Pages of known-churning poolable buffers shared when this one was (itself included).
        var outstandingAtShare: UInt64
        var flips: UInt64
        var lastFlip: EventTime
        /// Counted in `outstandingPoolable` (a shared, known-churning, poolable buffer).
        var inPool = false
    }

    public let window: EventTime
    public let maxTracked: Int
    /// Buffers up to this size could come from a pool of kept-shared pages (bounce buffers and
    /// atomic pools are the long-lived remainder).
    public let poolableMaxPages: UInt64
    public static let poolSizes: [UInt64] = [64, 256, 1024, 4096]

    private var entries: ChurnTable<Entry>
    private var outstandingPoolable: UInt64 = 0
    public private(set) var totalFlips: UInt64 = 0
    public private(set) var totalFlippedPages: UInt64 = 0
    /// Shared buffers dropped unflipped to stay within `maxTracked`: their flips, if any, are missed.
    public private(set) var prunedUnflipped: UInt64 = 0
    private var avoided: [UInt64]

    public init(window: EventTime = 10, maxTracked: Int = 65_536, poolableMaxPages: UInt64 = 512) {
        self.init(window: window, maxTracked: maxTracked, poolableMaxPages: poolableMaxPages, hashSeed: .process)
    }

    /// `hashSeed`: tests choose it to reach collisions; everything else uses the process's.
    init(window: EventTime, maxTracked: Int, poolableMaxPages: UInt64, hashSeed: ChurnHashSeed) {
        self.window = window; self.maxTracked = maxTracked; self.poolableMaxPages = poolableMaxPages
        entries = ChurnTable(seed: hashSeed)
        avoided = Array(repeating: 0, count: Self.poolSizes.count)
    }

    /// Returns the flipped pages when this conversion completes a flip, else 0.
    ///
    /// The pool what-if counts, for each flip, the pages of *known churners* (buffers that have
    /// flipped before) that were shared when this buffer was: a pool of K pages could have served
    /// the flip if those plus this buffer fit in K. Long-lived shared ranges (firmware tables,
    /// bounce buffers) never flip and so never occupy the pool.
    public mutating func observe(_ c: Conversion) -> UInt64 {
        observe(first: c.pages.lower, pages: c.pages.count, time: c.time, toShared: c.direction == .toShared)
    }

    /// `observe` of a conversion of `n` pages from page `key` (the batch paths' entry).
    mutating func observe(first key: UInt64, pages n: UInt64, time: EventTime, toShared: Bool) -> UInt64 {
        if toShared {
            let (slot, found) = entries.slot(of: key)
            guard found else {
                // Never flipped, so not a known churner: not in the pool.
                let e = Entry(pages: n, sharedAt: time, isShared: true, outstandingAtShare: outstandingPoolable.addingSaturating(n),
                              flips: 0, lastFlip: 0)
                entries.insert(key, e, at: slot)
                if entries.count > maxTracked { prune(now: time) }
                return 0
            }
            entries.update(slot: slot) { e in
                if e.isShared && e.inPool { outstandingPoolable -= min(outstandingPoolable, e.pages) }
                e.pages = n; e.sharedAt = time; e.isShared = true
                e.outstandingAtShare = outstandingPoolable.addingSaturating(n)
                e.inPool = e.flips > 0 && n <= poolableMaxPages
                if e.inPool { outstandingPoolable.addSaturating(n) }
            }
            return 0
        }
        let (slot, found) = entries.slot(of: key)
        guard found else { return 0 }
        let e = entries[slot: slot]
        guard e.isShared else { return 0 }
        if e.flips == 0 && (time - e.sharedAt > window || e.pages != n) {
            // Not a flip and never flipped: nothing left to learn from this buffer.
            entries.remove(at: slot)
            return 0
        }
        let isFlip = time - e.sharedAt <= window && e.pages == n
        let outstandingAtShare = e.outstandingAtShare
        entries.update(slot: slot) { e in
            e.isShared = false
            if e.inPool { outstandingPoolable -= min(outstandingPoolable, e.pages); e.inPool = false }
            if isFlip { e.flips += 1; e.lastFlip = time }
        }
        guard isFlip else { return 0 }
        totalFlips += 1; totalFlippedPages.addSaturating(n)
        if n <= poolableMaxPages { countAvoided(outstandingAtShare: outstandingAtShare) }
        return n
    }

    /// Two conversions avoided for each pool size that could have served a flip whose buffer was
    /// shared with `outstandingAtShare` pages of known churners outstanding (itself included).
    private mutating func countAvoided(outstandingAtShare: UInt64) {
        avoided.withUnsafeMutableBufferPointer { a in
            for (i, k) in Self.poolSizes.enumerated() where outstandingAtShare <= k { a[i].addSaturating(2) }
        }
    }

    /// Brings the table down to at most half of `maxTracked`, in O(tracked), so that pruning
    /// costs O(1) amortised per conversion: first entries that can no longer flip and never did
    /// (shared longer ago than the window), then every entry without a flip (a buffer shared
    /// since may then flip unseen: `prunedUnflipped` counts them), then the least-flipped.
    private mutating func prune(now: EventTime) {
        let target = maxTracked / 2
        entries.filter { $1.flips > 0 || now - $1.sharedAt <= window }
        if entries.count > target {
            let before = entries.count
            entries.filter { $1.flips > 0 }
            prunedUnflipped += UInt64(before - entries.count)
        }
        if entries.count > target {
            // Keep the most-flipped: the smallest power-of-two threshold that keeps at most `target`.
            var histogram = [Int](repeating: 0, count: 65)
            for (_, e) in entries.entries { histogram[64 - e.flips.leadingZeroBitCount] += 1 }
            var kept = 0, bits = 64
            while bits > 0 && kept + histogram[bits] <= target { kept += histogram[bits]; bits -= 1 }
            let minimum: UInt64 = bits >= 64 ? .max : UInt64(1) << bits
            entries.filter { $1.flips >= minimum }
        }
        outstandingPoolable = entries.entries.reduce(0) { $0.addingSaturating($1.value.inPool ? $1.value.pages : 0) }
    }

    /// The `limit` most-flipped buffers, most flips first. O(tracked).
    public func mostFlipped(limit: Int) -> [FlippedBuffer] {
        var top: [FlippedBuffer] = []
        for (key, e) in entries.entries where e.flips > 0 {
            let b = FlippedBuffer(pages: PageRange(first: key, count: e.pages), flips: e.flips, lastFlip: e.lastFlip)
            if top.count < limit { top.append(b); top.sort(by: Self.moreFlipped); continue }
            if let last = top.last, Self.moreFlipped(b, last) { top[top.count - 1] = b; top.sort(by: Self.moreFlipped) }
        }
        return top
    }

    static func moreFlipped(_ a: FlippedBuffer, _ b: FlippedBuffer) -> Bool {
        a.flips != b.flips ? a.flips > b.flips : a.pages.lower < b.pages.lower
    }

    /// Flips of buffers that start inside `range` (a region's flip count in the table).
    public func flips(startingIn range: PageRange) -> UInt64 {
        if range.count < 64 {
            var s: UInt64 = 0
            for p in range.lower..<range.upper { s.addSaturating(entries[p]?.flips ?? 0) }
            return s
        }
        return entries.entries.reduce(0) { range.contains($1.key) ? $0.addingSaturating($1.value.flips) : $0 }
    }

    public var trackedBuffers: Int { entries.count }

    public func poolWhatIf(totalConversions: UInt64) -> [PoolWhatIf] {
        Self.poolSizes.enumerated().map { i, k in
            PoolWhatIf(poolPages: k, conversionsAvoided: avoided[i],
                       fractionOfConversions: totalConversions == 0 ? 0 : Double(avoided[i]) / Double(totalConversions))
        }
    }

    public mutating func reset() {
        entries.updateAll { $0.flips = 0 }
        totalFlips = 0; totalFlippedPages = 0
        avoided = Array(repeating: 0, count: Self.poolSizes.count)
    }
}

extension ChurnTracker {
    /// Buffers with at least one flip, by address: feeds `FlipIndex`.
    public func flippedBuffers() -> [FlippedBuffer] {
        entries.entries.compactMap { key, e in
            e.flips > 0 ? FlippedBuffer(pages: PageRange(first: key, count: e.pages), flips: e.flips, lastFlip: e.lastFlip) : nil
        }.sorted { $0.pages.lower < $1.pages.lower }
    }
}

/// Flip counts by address with prefix sums: the flips of any region in O(log k).
public struct FlipIndex: Sendable {
    private var starts: [UInt64] = []
    private var prefix: [UInt64] = [0]

    public init(_ buffers: [FlippedBuffer]) {
        starts.reserveCapacity(buffers.count)
        prefix.reserveCapacity(buffers.count + 1)
        for b in buffers { starts.append(b.pages.lower); prefix.append(prefix.last! + b.flips) }
    }

    private func lowerBound(_ page: UInt64) -> Int {
        var lo = 0, hi = starts.count
        while lo < hi { let mid = (lo + hi) / 2; if starts[mid] < page { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    /// Flips of buffers starting inside `range`.
    public func flips(in range: PageRange) -> UInt64 {
        prefix[lowerBound(range.upper)] - prefix[lowerBound(range.lower)]
    }
}

extension ChurnTracker: Codable {
    enum CodingKeys: String, CodingKey {
        case window, maxTracked, poolableMaxPages, entries, outstandingPoolable, totalFlips, totalFlippedPages
        case prunedUnflipped, avoided
    }

    /// A tracked buffer with its first page, for the entries list in address order.
    private struct KeyedEntry: Codable {
        var first: UInt64
        var entry: Entry
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(window: try c.decode(EventTime.self, forKey: .window), maxTracked: try c.decode(Int.self, forKey: .maxTracked),
                  poolableMaxPages: try c.decode(UInt64.self, forKey: .poolableMaxPages))
        let list = try c.decode([KeyedEntry].self, forKey: .entries)
        avoided = try c.decode([UInt64].self, forKey: .avoided)
        guard avoided.count == Self.poolSizes.count, maxTracked >= 1, list.count <= maxTracked,
              list.allSatisfy({ $0.first <= PageRange.maxPage }) else {
            throw DecodingError.invalid("churn table out of range", at: c.codingPath)
        }
        for k in list { entries.insert(k.first, k.entry) }  // a repeated first page: the last wins
        outstandingPoolable = try c.decode(UInt64.self, forKey: .outstandingPoolable)
        totalFlips = try c.decode(UInt64.self, forKey: .totalFlips)
        totalFlippedPages = try c.decode(UInt64.self, forKey: .totalFlippedPages)
        prunedUnflipped = try c.decode(UInt64.self, forKey: .prunedUnflipped)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(window, forKey: .window)
        try c.encode(maxTracked, forKey: .maxTracked)
        try c.encode(poolableMaxPages, forKey: .poolableMaxPages)
        try c.encode(entries.entries.sorted { $0.key < $1.key }.map { KeyedEntry(first: $0.key, entry: $0.value) }, forKey: .entries)
        try c.encode(outstandingPoolable, forKey: .outstandingPoolable)
        try c.encode(totalFlips, forKey: .totalFlips)
        try c.encode(totalFlippedPages, forKey: .totalFlippedPages)
        try c.encode(prunedUnflipped, forKey: .prunedUnflipped)
        try c.encode(avoided, forKey: .avoided)
    }
}
