/// One maximal run of shared pages.
public struct SharedRegion: Hashable, Sendable {
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

// PLACEHOLDER IMPLEMENTATION (sorted array, O(n) updates). Replaced by the B+tree; the API is final.
public struct SharedRegionMap: Sendable {
    public static let defaultRegionCap = 1_000_000

    public let regionCap: Int
    public private(set) var isApproximate = false
    public private(set) var peakCount = 0
    private var regions: [SharedRegion] = []

    public init(regionCap: Int = SharedRegionMap.defaultRegionCap) {
        precondition(regionCap >= 1)
        self.regionCap = regionCap
    }

    public var count: Int { regions.count }
    public var isEmpty: Bool { regions.isEmpty }
    public var sharedPages: UInt64 { regions.reduce(0) { $0 + $1.pages.count } }

    @discardableResult
    public mutating func markShared(_ range: PageRange, stamp: UInt32) -> UInt64 {
        let before = sharedPages
        var merged = SharedRegion(pages: range, firstShared: stamp, lastChange: stamp)
        var out: [SharedRegion] = []
        for r in regions {
            if r.pages.upper < range.lower || r.pages.lower > range.upper { out.append(r); continue }
            merged.pages = PageRange(lower: Swift.min(merged.pages.lower, r.pages.lower), upper: Swift.max(merged.pages.upper, r.pages.upper))
            merged.firstShared = Swift.min(merged.firstShared, r.firstShared)
            merged.isApproximate = merged.isApproximate || r.isApproximate
        }
        if !range.isEmpty { out.append(merged) }
        out.sort { $0.pages.lower < $1.pages.lower }
        regions = out
        enforceCap(stamp: stamp)
        return sharedPages - before
    }

    @discardableResult
    public mutating func markPrivate(_ range: PageRange, stamp: UInt32) -> UInt64 {
        let before = sharedPages
        var out: [SharedRegion] = []
        for r in regions {
            if !r.pages.overlaps(range) { out.append(r); continue }
            if r.pages.lower < range.lower {
                var left = r; left.pages = PageRange(lower: r.pages.lower, upper: range.lower); left.lastChange = stamp; out.append(left)
            }
            if r.pages.upper > range.upper {
                var right = r; right.pages = PageRange(lower: range.upper, upper: r.pages.upper); right.lastChange = stamp; out.append(right)
            }
        }
        regions = out
        enforceCap(stamp: stamp)
        return before - sharedPages
    }

    private mutating func enforceCap(stamp: UInt32) {
        peakCount = Swift.max(peakCount, regions.count)
        while regions.count > regionCap {
            // Merge the pair with the smallest gap.
            var best = 0
            var bestGap = UInt64.max
            for i in 0..<(regions.count - 1) {
                let gap = regions[i + 1].pages.lower - regions[i].pages.upper
                if gap < bestGap { bestGap = gap; best = i }
            }
            var m = regions[best]
            m.pages = PageRange(lower: m.pages.lower, upper: regions[best + 1].pages.upper)
            m.isApproximate = true
            m.firstShared = Swift.min(m.firstShared, regions[best + 1].firstShared)
            m.lastChange = stamp
            regions[best] = m
            regions.remove(at: best + 1)
            isApproximate = true
        }
    }

    public func region(containing page: UInt64) -> SharedRegion? {
        regions.first { $0.pages.contains(page) }
    }

    /// Index of the first region that ends after `page` (the region containing it, or the next one).
    public func index(ofFirstRegionEndingAfter page: UInt64) -> Int {
        regions.firstIndex { $0.pages.upper > page } ?? regions.count
    }

    public func region(at index: Int) -> SharedRegion { regions[index] }

    public func sharedPages(in window: PageRange) -> UInt64 {
        regions.reduce(0) { $0 + $1.pages.clamped(to: window).count }
    }

    /// Shared pages in each of `cells` equal slices of `span` (the last slice takes the remainder).
    public func sharedPagesPerCell(span: PageRange, cells: Int) -> [UInt64] {
        guard cells > 0 else { return [] }
        let step = Swift.max(1, span.count / UInt64(cells))
        return (0..<cells).map { i in
            let lo = span.lower + UInt64(i) * step
            let hi = i == cells - 1 ? span.upper : Swift.min(span.upper, lo + step)
            return lo < hi ? sharedPages(in: PageRange(lower: lo, upper: hi)) : 0
        }
    }

    public var allRegions: [SharedRegion] { regions }
    public var allocatedBytes: Int { regions.capacity * MemoryLayout<SharedRegion>.stride }

    public func checkInvariants() {}
}

extension SharedRegionMap: Sequence {
    public func makeIterator() -> IndexingIterator<[SharedRegion]> { regions.makeIterator() }
}
