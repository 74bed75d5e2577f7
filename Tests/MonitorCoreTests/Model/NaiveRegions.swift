@testable import MonitorCore

/// The naive reference: a sorted array of regions rebuilt with the documented rules.
struct NaiveRegions {
    var regions: [SharedRegion] = []
    /// Total shared pages, kept up to date so that per-operation checks stay O(log n).
    var pages: UInt64 = 0

    /// First index whose region ends at or after `page`.
    func firstEnding(atOrAfter page: UInt64) -> Int {
        var lo = 0, hi = regions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if regions[mid].pages.upper < page { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// `replaceSubrange` with a raw memmove: unspecialized generic array code is too slow in debug
    /// builds for tens of thousands of regions.
    mutating func splice(_ i: Int, _ j: Int, with pieces: [SharedRegion]) {
        let oldCount = regions.count
        let delta = pieces.count - (j - i)
        if delta > 0 { regions.append(contentsOf: pieces[0..<delta]) }
        regions.withUnsafeMutableBufferPointer { buffer in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            let stride = MemoryLayout<SharedRegion>.stride
            (base + (i + pieces.count) * stride).copyMemory(from: base + j * stride, byteCount: (oldCount - j) * stride)
            for (t, piece) in pieces.enumerated() { buffer[i + t] = piece }
        }
        if delta < 0 { regions.removeLast(-delta) }
    }

    mutating func markShared(_ range: PageRange, stamp: UInt32) -> UInt64 {
        guard !range.isEmpty else { return 0 }
        let i = firstEnding(atOrAfter: range.lower)
        var j = i
        while j < regions.count && regions[j].pages.lower <= range.upper { j += 1 }
        if j == i + 1 && regions[i].pages.lower <= range.lower && regions[i].pages.upper >= range.upper { return 0 }
        var merged = SharedRegion(pages: range, firstShared: stamp, lastChange: stamp)
        var old: UInt64 = 0
        for r in regions[i..<j] {
            old += r.pages.count
            merged.pages = PageRange(lower: min(merged.pages.lower, r.pages.lower), upper: max(merged.pages.upper, r.pages.upper))
            merged.firstShared = min(merged.firstShared, r.firstShared)
            merged.isApproximate = merged.isApproximate || r.isApproximate
        }
        splice(i, j, with: [merged])
        pages += merged.pages.count - old
        return merged.pages.count - old
    }

    mutating func markPrivate(_ range: PageRange, stamp: UInt32) -> UInt64 {
        guard !range.isEmpty else { return 0 }
        let i = firstEnding(atOrAfter: range.lower + 1)
        var j = i
        while j < regions.count && regions[j].pages.lower < range.upper { j += 1 }
        var pieces: [SharedRegion] = []
        var removed: UInt64 = 0
        for r in regions[i..<j] {
            removed += r.pages.clamped(to: range).count
            if r.pages.lower < range.lower {
                var left = r; left.pages.upper = range.lower; left.lastChange = stamp; pieces.append(left)
            }
            if r.pages.upper > range.upper {
                var right = r; right.pages.lower = range.upper; right.lastChange = stamp; pieces.append(right)
            }
        }
        splice(i, j, with: pieces)
        pages -= removed
        return removed
    }

    func sharedPages(in window: PageRange) -> UInt64 {
        var sum: UInt64 = 0
        var i = firstEnding(atOrAfter: window.lower)
        while i < regions.count && regions[i].pages.lower < window.upper {
            sum += regions[i].pages.clamped(to: window).count
            i += 1
        }
        return sum
    }

    func region(containing page: UInt64) -> SharedRegion? {
        let i = firstEnding(atOrAfter: page + 1)
        return i < regions.count && regions[i].pages.lower <= page ? regions[i] : nil
    }

    func perCell(span: PageRange, cells: Int) -> [UInt64] {
        let step = max(1, span.count / UInt64(cells))
        return (0..<cells).map { i in
            let lo = span.lower + UInt64(i) * step
            let hi = i == cells - 1 ? span.upper : min(span.upper, lo + step)
            return lo < hi ? sharedPages(in: PageRange(lower: lo, upper: hi)) : 0
        }
    }
}

extension NaiveRegions {
    /// `markShared` followed by the documented cap policy: when the operation added a region past
    /// `cap`, fill the smallest gap beside it (ties to the lower address).
    mutating func markShared(_ range: PageRange, stamp: UInt32, cap: Int) -> UInt64 {
        let before = regions.count
        let newly = markShared(range, stamp: stamp)
        if regions.count > before { enforceCap(cap, aroundFirstEndingAtOrAfter: range.upper, pieces: 1, stamp: stamp) }
        return newly
    }

    /// `markPrivate` followed by the cap policy: a split's two pieces and their outer neighbours
    /// compete for the merge.
    mutating func markPrivate(_ range: PageRange, stamp: UInt32, cap: Int) -> UInt64 {
        let before = regions.count
        let removed = markPrivate(range, stamp: stamp)
        if regions.count > before { enforceCap(cap, aroundFirstEndingAtOrAfter: range.lower, pieces: 2, stamp: stamp) }
        return removed
    }

    /// Merges the pair with the smallest gap among the `pieces` regions from the first one ending
    /// at or after `page` and their neighbours, into an approximate span.
    private mutating func enforceCap(_ cap: Int, aroundFirstEndingAtOrAfter page: UInt64, pieces: Int, stamp: UInt32) {
        guard regions.count > cap else { return }
        let first = firstEnding(atOrAfter: page)
        var best = -1
        var bestGap = UInt64.max
        for i in max(0, first - 1)...(first + pieces - 1) where i + 1 < regions.count {
            let gap = regions[i + 1].pages.lower - regions[i].pages.upper
            if gap < bestGap { bestGap = gap; best = i }
        }
        let left = regions[best], right = regions[best + 1]
        let merged = SharedRegion(pages: PageRange(lower: left.pages.lower, upper: right.pages.upper), isApproximate: true,
                                  firstShared: min(left.firstShared, right.firstShared), lastChange: stamp)
        splice(best, best + 2, with: [merged])
        pages += bestGap
    }
}
