/// Counts of one second of event time. Page counts saturate (`addSaturating`): a guest picks them.
public struct RateSample: Sendable, Hashable, Codable {
    /// Whole seconds since tracking began.
    public var second: Int64 = 0
    public var callsToShared: UInt64 = 0
    public var callsToPrivate: UInt64 = 0
    public var pagesToShared: UInt64 = 0
    public var pagesToPrivate: UInt64 = 0
    public var flips: UInt64 = 0
    public var flippedPages: UInt64 = 0
    public var rejected: UInt64 = 0
    public var otherHypercalls: UInt64 = 0

    public init(second: Int64 = 0) { self.second = second }

    /// One conversion of `pages` pages, `flipped` of them flips.
    @inline(__always)
    mutating func addConversion(toShared: Bool, pages: UInt64, flipped: UInt64) {
        if toShared { callsToShared += 1; pagesToShared.addSaturating(pages) } else { callsToPrivate += 1; pagesToPrivate.addSaturating(pages) }
        if flipped > 0 { flips += 1; flippedPages.addSaturating(flipped) }
    }

    mutating func add(_ o: RateSample) {
        callsToShared.addSaturating(o.callsToShared); callsToPrivate.addSaturating(o.callsToPrivate)
        pagesToShared.addSaturating(o.pagesToShared); pagesToPrivate.addSaturating(o.pagesToPrivate)
        flips.addSaturating(o.flips); flippedPages.addSaturating(o.flippedPages)
        rejected.addSaturating(o.rejected); otherHypercalls.addSaturating(o.otherHypercalls)
    }
}

/// Per-second rates averaged over one window.
public struct RateFigures: Sendable, Hashable {
    public var window: Int
    public var callsToShared: Double = 0
    public var callsToPrivate: Double = 0
    public var pagesToShared: Double = 0
    public var pagesToPrivate: Double = 0
    public var flips: Double = 0
    public var flippedPages: Double = 0
    public var rejected: Double = 0
    public var calls: Double { callsToShared + callsToPrivate }
    public var pages: Double { pagesToShared + pagesToPrivate }
}

/// A ring of one-second buckets in event time: rates over the 1, 10 and 60 s windows and the
/// history behind the sparklines. O(1) per event; memory fixed by `historySeconds`.
public struct RateTracker: Sendable {
    public let historySeconds: Int
    private var ring: [RateSample]
    /// The second the last bucket holds; nil before the first event.
    private var current: Int64?
    /// First second seen, so early windows divide by the time actually observed.
    private var first: Int64?
    /// `slot(current)`, so events within the current second skip the two 64-bit divisions.
    private var currentSlot = 0

    public init(historySeconds: Int = 600) {
        precondition(historySeconds >= 60)
        self.historySeconds = historySeconds
        ring = Array(repeating: RateSample(), count: historySeconds)
    }

    /// Moves the clock to `second` (never backwards: out-of-order trace lines from other CPUs
    /// land in the current bucket) and returns the bucket index to add to.
    private mutating func advance(to second: Int64) -> Int {
        guard let cur = current else {
            current = second; first = second
            let i = slot(second); ring[i] = RateSample(second: second); currentSlot = i; return i
        }
        if second <= cur { return currentSlot }
        let gap = second - cur
        if gap >= Int64(historySeconds) {
            for i in ring.indices { ring[i] = RateSample(second: second - Int64(historySeconds) + 1 + Int64((i - slot(second + 1) + historySeconds) % historySeconds)) }
        } else {
            var s = cur + 1
            while s <= second { ring[slot(s)] = RateSample(second: s); s += 1 }
        }
        current = second
        currentSlot = slot(second)
        return currentSlot
    }

    private func slot(_ second: Int64) -> Int {
        Int(((second % Int64(historySeconds)) + Int64(historySeconds)) % Int64(historySeconds))
    }

    public mutating func record(second: Int64, _ update: (inout RateSample) -> Void) {
        let i = advance(to: second)
        update(&ring[i])
    }

    /// Lets time pass with no events (live sources that are idle).
    public mutating func tick(second: Int64) { _ = advance(to: second) }

    /// Rates over the last `window` complete seconds: the current second has only just begun,
    /// and counting it as whole would show a fraction of the true rate. Zero until one second
    /// has completed.
    public func figures(window: Int) -> RateFigures {
        var f = RateFigures(window: window)
        let w = min(window, historySeconds - 1)
        guard let cur = current, let first, cur > first, w >= 1 else { return f }
        var sum = RateSample()
        for k in 1...w {
            let s = cur - Int64(k)
            if s < first { break }
            let b = ring[slot(s)]
            if b.second == s { sum.add(b) }
        }
        let observed = Double(min(Int64(w), cur - first))
        f.callsToShared = Double(sum.callsToShared) / observed
        f.callsToPrivate = Double(sum.callsToPrivate) / observed
        f.pagesToShared = Double(sum.pagesToShared) / observed
        f.pagesToPrivate = Double(sum.pagesToPrivate) / observed
        f.flips = Double(sum.flips) / observed
        f.flippedPages = Double(sum.flippedPages) / observed
        f.rejected = Double(sum.rejected) / observed
        return f
    }

    /// The last `seconds` buckets, oldest first (missing seconds as empty samples).
    public func history(seconds: Int) -> [RateSample] {
        guard let cur = current else { return [] }
        let n = min(seconds, historySeconds)
        return (0..<n).reversed().map { k in
            let s = cur - Int64(k)
            let b = ring[slot(s)]
            return b.second == s ? b : RateSample(second: s)
        }
    }

    public mutating func reset() {
        ring = Array(repeating: RateSample(), count: historySeconds)
        current = nil; first = nil
    }
}

extension RateTracker: Codable {
    /// A day of one-second buckets: the most a decoded tracker may claim.
    public static let maxHistorySeconds = 86_400

    enum CodingKeys: String, CodingKey { case historySeconds, ring, current, first }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let history = try c.decode(Int.self, forKey: .historySeconds)
        let ring = try c.decode([RateSample].self, forKey: .ring)
        let current = try c.decodeIfPresent(Int64.self, forKey: .current)
        let first = try c.decodeIfPresent(Int64.self, forKey: .first)
        // Seconds stay within the model's time limit, so the bucket arithmetic cannot overflow.
        let limit = Int64(Monitor.timeLimit)
        let inRange = { (s: Int64?) in s.map { abs($0) <= limit } ?? true }
        guard history >= 60, history <= Self.maxHistorySeconds, ring.count == history,
              inRange(current), inRange(first), (current == nil) == (first == nil) else {
            throw DecodingError.invalid("rate history out of range", at: c.codingPath)
        }
        self.init(historySeconds: history)
        self.ring = ring
        self.current = current
        self.first = first
        currentSlot = current.map(slot) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(historySeconds, forKey: .historySeconds)
        try c.encode(ring, forKey: .ring)
        try c.encodeIfPresent(current, forKey: .current)
        try c.encodeIfPresent(first, forKey: .first)
    }
}
