import MonitorCore

/// The baseline for `SharedRegionMap`: one bit per page over a fixed span, as a `[UInt64]`.
/// Memory is span / 8 bytes whatever the number of regions.
public struct PlainBitmap {
    public private(set) var words: [UInt64]
    public let pageCount: UInt64

    public init(pages: UInt64) {
        pageCount = pages
        words = [UInt64](repeating: 0, count: Int((pages + 63) / 64))
    }

    public var allocatedBytes: Int { words.count * 8 }

    @inline(__always) public func isSet(_ page: UInt64) -> Bool {
        words[Int(page >> 6)] & (1 << (page & 63)) != 0
    }

    @inline(__always) public mutating func set(_ page: UInt64) { words[Int(page >> 6)] |= 1 << (page & 63) }
    @inline(__always) public mutating func clear(_ page: UInt64) { words[Int(page >> 6)] &= ~(1 << (page & 63)) }

    /// Sets or clears `range` a word at a time.
    public mutating func assign(_ range: PageRange, _ value: Bool) {
        var p = range.lower
        let end = Swift.min(range.upper, pageCount)
        while p < end {
            let bit = p & 63
            let n = Swift.min(64 - bit, end - p)
            let mask: UInt64 = n == 64 ? ~0 : ((1 << n) - 1) << bit
            let w = Int(p >> 6)
            if value { words[w] |= mask } else { words[w] &= ~mask }
            p += n
        }
    }

    /// Set bits in `range`.
    public func popcount(_ range: PageRange) -> UInt64 {
        var p = range.lower
        let end = Swift.min(range.upper, pageCount)
        var total: UInt64 = 0
        while p < end {
            let bit = p & 63
            let n = Swift.min(64 - bit, end - p)
            let mask: UInt64 = n == 64 ? ~0 : ((1 << n) - 1) << bit
            total += UInt64((words[Int(p >> 6)] & mask).nonzeroBitCount)
            p += n
        }
        return total
    }

    /// The same slicing as `SharedRegionMap.sharedPagesPerCell(span:cells:)`.
    public func setPagesPerCell(span: PageRange, cells: Int) -> [UInt64] {
        let step = Swift.max(1, span.count / UInt64(cells))
        var out = [UInt64](repeating: 0, count: cells)
        for i in 0..<cells {
            let lo = Swift.min(span.upper, span.lower + UInt64(i) * step)
            let hi = i == cells - 1 ? span.upper : Swift.min(span.upper, lo + step)
            out[i] = popcount(PageRange(lower: lo, upper: hi))
        }
        return out
    }
}

/// Maps used by the region-map benchmarks: `count` regions of 8 pages, one every 16 pages.
public enum RegionLayouts {
    public static let stride: UInt64 = 16
    public static let length: UInt64 = 8

    public static func span(regions: Int) -> PageRange { PageRange(lower: 0, upper: UInt64(regions) * stride) }

    public static func regularMap(regions: Int) -> SharedRegionMap {
        var m = SharedRegionMap()
        for i in 0..<UInt64(regions) { m.markShared(PageRange(first: i * stride, count: length), stamp: 1) }
        return m
    }

    public static func regularBitmap(regions: Int) -> PlainBitmap {
        var b = PlainBitmap(pages: span(regions: regions).upper)
        for i in 0..<UInt64(regions) { b.assign(PageRange(first: i * stride, count: length), true) }
        return b
    }
}

/// The frame benchmark's guest: 1 TiB of RAM with `regions` shared regions spread over it, built
/// through `Monitor.apply` over ten minutes of event time, with some churn so every panel has data.
public enum FrameGuest {
    public static let ramPages: UInt64 = 1 << 28  // 1 TiB

    public static func monitor(regions: Int, seed: UInt64 = 7) -> Monitor {
        var m = Monitor()
        var rng = SplitMix64(seed: seed)
        m.apply(.layout(GuestLayout(time: 0, ranges: [GuestLayoutRange(pages: PageRange(lower: 0, upper: ramPages), kind: .ram, name: "ram")])))
        let stride = ramPages / UInt64(regions)
        let seconds = 600.0
        for i in 0..<UInt64(regions) {
            let pages = 1 + rng.next(below: stride / 2)
            let t = seconds * Double(i) / Double(regions)
            m.apply(.conversion(Conversion(time: t, pages: PageRange(first: i * stride, count: pages), direction: .toShared,
                                           vcpu: Int32(i % 16), pid: 40515 + Int32(i % 16), path: .hypercall)))
        }
        // Churn in the last minute: 20,000 buffers flipping private and back.
        for k in 0..<20_000 {
            let i = rng.next(below: UInt64(regions))
            let t = seconds + Double(k) * 0.003
            let pages = PageRange(first: i * stride, count: 1)
            m.apply(.conversion(Conversion(time: t, pages: pages, direction: .toPrivate, path: .hypercall)))
            m.apply(.conversion(Conversion(time: t + 0.001, pages: pages, direction: .toShared, path: .hypercall)))
        }
        return m
    }
}
