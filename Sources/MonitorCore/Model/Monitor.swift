/// Tuning of the model; the defaults are what the screen and the batch summary use.
public struct MonitorConfiguration: Sendable {
    /// Region cap of the shared-region map (hostile guests fragment on purpose).
    public var regionCap = SharedRegionMap.defaultRegionCap
    /// A buffer made shared and private again within this many seconds is a flip.
    public var churnWindow: EventTime = 10
    /// Seconds of per-second history kept for the sparklines.
    public var historySeconds = 600
    /// Bytes of one entry in a range list: `{gfn_start, gfn_end}` as two u64, as in the
    /// KVM_GET_SHARED_PAGES_LIST proposal of the SEV live-migration series (v10).
    public var rangeEntryBytes: UInt64 = 16
    /// Recent conversions kept for the map highlight.
    public var recentChangeLimit = 1024
    public init() {}
}

/// A conversion that recently changed the map, for highlighting cells.
public struct RecentChange: Sendable, Hashable, Codable {
    public var pages: PageRange
    public var time: EventTime
    public var direction: ConversionDirection
}

/// A cumulative kernel counter and its rate over the last update interval.
public struct KernelCounter: Sendable, Hashable, Codable {
    public var name: String
    public var value: UInt64
    public var perSecond: Double
    public var time: EventTime
}

/// Bytes needed to hold the current shared set two ways, and the peak seen.
public struct TrackingCost: Sendable, Hashable {
    /// One bit per page of the guest span.
    public var bitmapBytes: UInt64
    /// One entry per region.
    public var rangeListBytes: UInt64
    public var regions: Int
    public var peakRegions: Int
    public var peakRangeListBytes: UInt64
    /// What this process spends on the map itself.
    public var mapMemoryBytes: Int
}

/// Running totals since tracking began (or the last reset of rates).
public struct MonitorTotals: Sendable, Hashable, Codable {
    public var events: UInt64 = 0
    public var conversions: UInt64 = 0
    public var toShared: UInt64 = 0
    public var toPrivate: UInt64 = 0
    public var pagesToShared: UInt64 = 0
    public var pagesToPrivate: UInt64 = 0
    /// Pages whose state actually changed (a conversion of already-shared pages changes none).
    public var pagesChanged: UInt64 = 0
    public var rejected: UInt64 = 0
    public var rejectedByReason: [RejectionReason: UInt64] = [:]
    public var otherHypercalls: UInt64 = 0
    /// Events the sources said they lost, where they gave a number.
    public var lostEvents: UInt64 = 0
    /// Events refused because their time was not finite or beyond `Monitor.timeLimit`.
    public var rejectedTimes: UInt64 = 0
    /// Loss reports without a number (`CPU:N [LOST EVENTS]`): when > 0, at least `lostEvents` were
    /// lost and the true figure is unknown.
    public var lossReportsWithoutCount: UInt64 = 0
    /// Applied conversions that broke the ABI in a way KVM lets through (see `ConversionAnomalies`).
    public var reservedAttributeBitCalls: UInt64 = 0
    public var beyondAddressSpaceCalls: UInt64 = 0
    /// Conversions by the interface they were seen on, indexed by `ConversionPath.rawValue`
    /// (an array: a dictionary update per event showed in replay profiles).
    public var conversionsByPath = [UInt64](repeating: 0, count: ConversionPath.allCases.count)

    /// The conversion counts of a rate sample: what adding its conversions one by one adds.
    @inline(__always)
    mutating func addConversions(of sample: RateSample) {
        let calls = sample.callsToShared + sample.callsToPrivate
        events += calls; conversions += calls
        toShared += sample.callsToShared; toPrivate += sample.callsToPrivate
        pagesToShared.addSaturating(sample.pagesToShared); pagesToPrivate.addSaturating(sample.pagesToPrivate)
    }
}

/// The model: applies events in order and keeps the shared set, rates, churn, kernel counters
/// and migration state. Pure: it knows no terminal and no source; event time drives everything.
public struct Monitor: Sendable {
    public let configuration: MonitorConfiguration
    public private(set) var regions: SharedRegionMap
    public private(set) var totals = MonitorTotals()
    public private(set) var rates: RateTracker
    public private(set) var churn: ChurnTracker
    public private(set) var migration = MigrationTracker()
    public private(set) var layout: GuestLayout?
    public private(set) var counters: [String: KernelCounter] = [:]
    public private(set) var lastMarker: String?
    /// Time of the first event: what happened before is unknown ("tracking since").
    public private(set) var origin: EventTime? { didSet { clock = EventClockKeys() } }
    /// The stamp and second of the last event time: consecutive trace lines mostly share one,
    /// so the Double arithmetic runs only when time moves. Derived; not serialised.
    private var clock = EventClockKeys()
    /// Latest event time seen.
    public private(set) var now: EventTime = 0
    /// Lowest and highest page any conversion touched (the span when no layout is known).
    public private(set) var observedSpan: PageRange?
    private var recent: [RecentChange] = []
    private var recentHead = 0

    public init(configuration: MonitorConfiguration = MonitorConfiguration()) {
        self.configuration = configuration
        regions = SharedRegionMap(regionCap: configuration.regionCap)
        rates = RateTracker(historySeconds: configuration.historySeconds)
        churn = ChurnTracker(window: configuration.churnWindow)
    }

    /// Region stamps count tenths of a second since tracking began: a UInt32 lasts 13.6 years
    /// of uptime (milliseconds lasted 49.7 days) at the same 24 bytes a region.
    public static let stampsPerSecond: EventTime = 10

    /// Largest event time magnitude accepted (2^61 s): beyond it no clock is plausible, and
    /// differences of accepted times always fit the Int64 seconds of the rate buckets.
    public static let timeLimit: EventTime = 0x1p61

    /// Whether the model takes events at time `t`.
    public static func isUsableTime(_ t: EventTime) -> Bool { t.isFinite && abs(t) <= timeLimit }

    /// Tenths of a second since tracking began, saturating: the stamp stored per region.
    @inline(__always)
    func stamp(_ t: EventTime) -> UInt32 {
        let ticks = (t - (origin ?? t)) * Self.stampsPerSecond
        return ticks > 0 ? (ticks < Double(UInt32.max) ? UInt32(ticks) : UInt32.max) : 0
    }

    /// Event time of a region stamp.
    public func time(ofStamp s: UInt32) -> EventTime { (origin ?? 0) + Double(s) / Self.stampsPerSecond }

    /// Whole seconds since tracking began (times are within `timeLimit`, so this fits).
    @inline(__always)
    private func second(_ t: EventTime) -> Int64 { Int64(((t - (origin ?? t))).rounded(.down)) }

    /// Applies one event. An event whose time is not usable (`isUsableTime`) changes nothing but
    /// `totals.rejectedTimes`.
    public mutating func apply(_ event: MonitorEvent) {
        let t = event.time
        guard admit(t) else { return }
        switch event {
        case .conversion(let c):
            apply(c)
        case .rejected(let r):
            totals.rejected += 1
            totals.rejectedByReason[r.reason, default: 0] += 1
            rates.record(second: second(t)) { $0.rejected += 1 }
        case .otherHypercall:
            totals.otherHypercalls += 1
            rates.record(second: second(t)) { $0.otherHypercalls += 1 }
        case .counter(_, let name, let value):
            let old = counters[name]
            var rate = 0.0
            if let old, t > old.time, value >= old.value { rate = Double(value - old.value) / (t - old.time) }
            counters[name] = KernelCounter(name: name, value: value, perSecond: old == nil ? 0 : rate, time: t)
        case .layout(let l):
            layout = l.normalized()
        case .migrationProgress(let p):
            migration.progress(p, current: regions, conversions: totals.conversions)
        case .migrationPass(let r):
            migration.pass(r, current: regions, conversions: totals.conversions)
        case .marker(_, let text):
            lastMarker = text
        case .lostEvents(_, let n):
            if let n { totals.lostEvents.addSaturating(n) } else { totals.lossReportsWithoutCount &+= 1 }
        }
    }

    /// Applies a batch's events in file order: exactly `apply` of each event, with the
    /// conversions read from plain records (the batch replay's fast path).
    public mutating func apply(_ batch: TraceEventBatch) {
        let others = batch.others
        var next = 0
        var nextPosition = others.first?.position ?? Int.max
        batch.conversions.withUnsafeBufferPointer { records in
            var start = 0
            while start < records.count {
                while nextPosition == start {
                    apply(others[next].event)
                    next += 1
                    nextPosition = next < others.count ? others[next].position : Int.max
                }
                let end = Swift.min(nextPosition, records.count)
                applyConversions(records, start..<end, churnObserved: batch.churnObserved)
                start = end
            }
        }
        while next < others.count { apply(others[next].event); next += 1 }
    }

    /// `admit` and `apply(_: Conversion)` of each record in `range`, a run of conversions with
    /// no other event between them, with the bookkeeping hoisted out of the loop: the counters
    /// and per-path counts are taken out of `self` once (no uniqueness check per record), the
    /// rate ring gets one summed sample per second instead of an update per record and the
    /// totals the same sums (saturating sums of counts regroup exactly), the span
    /// is widened once, and the recent-change ring gets only the run's last changes (its
    /// capacity), found through a ring of record indices. The map's uniqueness is checked once
    /// per run: only other events (a migration pass keeps a copy of the map) can share it in
    /// between. `churnObserved`: a `ChurnStage` has already run the churn tracker over these
    /// records (`completesFlip`).
    private mutating func applyConversions(_ records: UnsafeBufferPointer<ConversionRecord>, _ range: Range<Int>,
                                           churnObserved: Bool) {
        regions.prepareForUpdates()
        let boundsDeferred = regions.deferBounds(forUpdates: range.count)
        defer { if boundsDeferred { regions.endDeferredBounds() } }
        var t = totals
        var byPath = t.conversionsByPath
        t.conversionsByPath = []; totals.conversionsByPath = []
        // Indices of the run's records that changed the map, the last `recentLimit` of them.
        let recentLimit = configuration.recentChangeLimit
        let changedIndices = UnsafeMutableBufferPointer<Int>.allocate(capacity: Swift.max(1, Swift.min(recentLimit, range.count)))
        defer { changedIndices.deallocate() }
        var changedCount = 0, changedNext = 0
        var lowest = UInt64.max, highest: UInt64 = 0
        // Counts of the current second not yet added to `rates` (same sums as adding each).
        var pending = RateSample(), pendingSecond: Int64 = 0, hasPending = false
        byPath.withUnsafeMutableBufferPointer { paths in for i in range {
            let r = records[i]
            let time = r.time
            guard Self.isUsableTime(time) else { t.rejectedTimes.addSaturating(1); continue }
            if origin == nil { origin = time }
            if time > now { now = time }
            let keys = clockKeys(time)
            let n = r.pages.count
            let toShared = r.direction == .toShared
            let changed = toShared ? regions.markShared(r.pages, stamp: keys.stamp, treeIsUnique: true)
                : regions.markPrivate(r.pages, stamp: keys.stamp, treeIsUnique: true)
            t.pagesChanged.addSaturating(changed)
            if !r.anomalies.isEmpty {
                if r.anomalies.contains(.reservedAttributeBits) { t.reservedAttributeBitCalls &+= 1 }
                if r.anomalies.contains(.beyondAddressSpace) { t.beyondAddressSpaceCalls &+= 1 }
            }
            let path = Int(r.path.rawValue)
            precondition(path < paths.count, "conversion path counts missing")  // as the checked subscript did
            paths[path] += 1
            let flipped = churnObserved ? (r.completesFlip ? n : 0) : churn.observe(r.conversion)
            if hasPending && keys.second != pendingSecond {
                let sample = pending
                rates.record(second: pendingSecond) { $0.add(sample) }
                t.addConversions(of: sample)
                pending = RateSample()
            }
            pendingSecond = keys.second; hasPending = true
            pending.addConversion(toShared: toShared, pages: n, flipped: flipped)
            if n > 0 {
                lowest = Swift.min(lowest, r.pages.lower)
                highest = Swift.max(highest, r.pages.upper)
            }
            if changed > 0 {
                changedIndices[changedNext] = i
                changedNext = changedNext &+ 1 == changedIndices.count ? 0 : changedNext &+ 1
                changedCount &+= 1
            }
        } }
        if hasPending {
            rates.record(second: pendingSecond) { $0.add(pending) }
            t.addConversions(of: pending)
        }
        t.conversionsByPath = byPath
        totals = t
        if lowest < highest { observedSpan = Self.span(observedSpan, widenedBy: PageRange(lower: lowest, upper: highest)) }
        // The kept indices in order: oldest first, starting at the slot written next. The
        // changes not kept would have been overwritten by these: only their ring moves count.
        let kept = Swift.min(changedCount, changedIndices.count)
        if changedCount > kept { skipRecent(changedCount - kept, filler: records[changedIndices[changedNext]]) }
        var slot = changedCount > changedIndices.count ? changedNext : 0
        for _ in 0..<kept {
            let r = records[changedIndices[slot]]
            remember(RecentChange(pages: r.pages, time: r.time, direction: r.direction))
            slot = slot &+ 1 == changedIndices.count ? 0 : slot &+ 1
        }
    }

    /// Moves the recent-change ring as `count` additions would, without their contents: the
    /// caller then adds at least the ring's capacity, which overwrites every filler slot.
    private mutating func skipRecent(_ count: Int, filler: ConversionRecord) {
        let limit = configuration.recentChangeLimit
        let fill = Swift.min(count, limit - recent.count)
        if fill > 0 {
            recent.append(contentsOf: repeatElement(RecentChange(pages: filler.pages, time: filler.time, direction: filler.direction), count: fill))
        }
        recentHead = (recentHead + (count - fill) % limit) % limit
    }

    /// Adds a change to the recent-change ring (the oldest goes when it is full).
    @inline(__always)
    private mutating func remember(_ r: RecentChange) {
        if recent.count < configuration.recentChangeLimit { recent.append(r) } else {
            recent[recentHead] = r
            recentHead = recentHead + 1 == recent.count ? 0 : recentHead + 1
        }
    }

    /// The bookkeeping every event starts with; false (counted) when its time is not usable.
    @inline(__always)
    private mutating func admit(_ t: EventTime) -> Bool {
        guard Self.isUsableTime(t) else {
            totals.rejectedTimes.addSaturating(1)
            return false
        }
        if origin == nil { origin = t }
        if t > now { now = t }
        totals.events += 1
        return true
    }

    /// `stamp(t)` and `second(t)`, recomputed only when `t` leaves the interval where both are
    /// known to be unchanged (see `EventClockKeys.upper`): most events skip the Double arithmetic.
    @inline(__always)
    private mutating func clockKeys(_ t: EventTime) -> EventClockKeys {
        if !(t >= clock.time && t <= clock.upper) { clock = computeClockKeys(t) }
        return clock
    }

    /// Both keys of `t`, with an upper bound up to which they hold. Both keys are monotone in
    /// `t` (a subtraction, a product by a positive constant and a truncation, each rounding
    /// monotonically), so if a later `u` has the keys of `t` they hold for all of `[t, u]`:
    /// `u` is a guess just below the next tenth and the next second, checked exactly.
    private func computeClockKeys(_ t: EventTime) -> EventClockKeys {
        let keys = EventClockKeys(time: t, stamp: stamp(t), second: second(t), upper: t)
        let o = origin ?? t
        let u = Swift.min(o + (Double(keys.stamp) + 0.99) / Self.stampsPerSecond, o + Double(keys.second) + 0.99)
        guard u > t, Self.isUsableTime(u), stamp(u) == keys.stamp, second(u) == keys.second else { return keys }
        var widened = keys
        widened.upper = u
        return widened
    }

    @inline(__always)
    private mutating func apply(_ c: Conversion) {
        let keys = clockKeys(c.time)
        let s = keys.stamp
        let changed: UInt64
        switch c.direction {
        case .toShared:
            changed = regions.markShared(c.pages, stamp: s)
            totals.toShared += 1; totals.pagesToShared.addSaturating(c.pages.count)
        case .toPrivate:
            changed = regions.markPrivate(c.pages, stamp: s)
            totals.toPrivate += 1; totals.pagesToPrivate.addSaturating(c.pages.count)
        }
        totals.conversions += 1
        totals.pagesChanged.addSaturating(changed)
        if !c.anomalies.isEmpty {
            if c.anomalies.contains(.reservedAttributeBits) { totals.reservedAttributeBitCalls &+= 1 }
            if c.anomalies.contains(.beyondAddressSpace) { totals.beyondAddressSpaceCalls &+= 1 }
        }
        totals.conversionsByPath[Int(c.path.rawValue)] += 1
        let flipped = churn.observe(c)
        let n = c.pages.count
        let dir = c.direction
        rates.record(second: keys.second) { $0.addConversion(toShared: dir == .toShared, pages: n, flipped: flipped) }
        observedSpan = Self.span(observedSpan, widenedBy: c.pages)
        if changed > 0 { remember(RecentChange(pages: c.pages, time: c.time, direction: c.direction)) }
    }

    /// Applies many events; the usual call from the app loop.
    public mutating func apply<S: Sequence>(_ events: S) where S.Element == MonitorEvent {
        for e in events { apply(e) }
    }

    /// Lets event time pass without events (idle live sources), so windows decay.
    public mutating func advance(to t: EventTime) {
        guard Self.isUsableTime(t) else { return }
        if origin == nil { origin = t }
        guard t > now else { return }
        now = t
        rates.tick(second: second(t))
    }

    /// Moves the churn tracker out into a `ChurnStage`, which a batch replay runs on its parsing
    /// thread; `attach` puts it back. In between, only batches the stage has observed may be
    /// applied (the tracker here is an empty one).
    public mutating func detachChurn() -> ChurnStage {
        let stage = ChurnStage(churn)
        churn = ChurnTracker(window: configuration.churnWindow)
        return stage
    }

    /// Takes back the tracker of a stage from `detachChurn`, with everything it has observed.
    public mutating func attach(_ stage: ChurnStage) {
        churn = stage.tracker
    }

    /// `r` on the screen: rates, churn and flip counts start again; the shared set stays.
    public mutating func resetRates() {
        rates.reset()
        churn.reset()
    }

    /// The observed span grown to cover `pages`; an empty range (clamped away at the end of the
    /// space) has nothing to draw and leaves it as it is.
    @inline(__always)
    static func span(_ span: PageRange?, widenedBy pages: PageRange) -> PageRange? {
        guard !pages.isEmpty else { return span }
        guard let o = span else { return pages }
        return PageRange(lower: Swift.min(o.lower, pages.lower), upper: Swift.max(o.upper, pages.upper))
    }

    /// The guest span to draw: the layout's, else the observed span rounded out to 1 GiB.
    public var guestSpan: PageRange {
        if let s = layout?.span { return s }
        guard let o = observedSpan else { return PageRange(lower: 0, upper: 1 << 18) }
        let gib: UInt64 = 1 << 18  // pages per GiB
        let lo = Swift.min(o.lower / gib * gib, PageRange.maxPage - gib)
        let hi = o.upper >= PageRange.maxPage - gib ? PageRange.maxPage : (o.upper + gib - 1) / gib * gib
        return PageRange(lower: lo, upper: Swift.max(hi, lo + gib))
    }

    public var trackingCost: TrackingCost {
        let span = guestSpan
        return TrackingCost(bitmapBytes: span.count / 8 + (span.count % 8 == 0 ? 0 : 1),
                            rangeListBytes: UInt64(regions.count) * configuration.rangeEntryBytes,
                            regions: regions.count, peakRegions: regions.peakCount,
                            peakRangeListBytes: UInt64(regions.peakCount) * configuration.rangeEntryBytes,
                            mapMemoryBytes: regions.allocatedBytes)
    }

    /// Conversions that changed the map within the last `seconds`, newest last.
    public func recentChanges(within seconds: EventTime) -> [RecentChange] {
        let ordered = Array(recent[recentHead...] + recent[..<recentHead])
        return ordered.filter { now - $0.time <= seconds }
    }

    public func snapshot() -> MonitorSnapshot { MonitorSnapshot(self) }
}

/// The whole model state, versioned: the daemon journals it and `--connect` clients rebuild from
/// it. A restored model answers every query as the original did and goes on identically.
extension Monitor: Codable {
    /// Bumped when a field changes meaning; decoding refuses other versions.
    public static let stateVersion = 1

    enum CodingKeys: String, CodingKey {
        case version, configuration, regions, totals, rates, churn, migration, layout, counters, lastMarker
        case origin, now, observedSpan, recent, recentHead
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let version = try c.decode(Int.self, forKey: .version)
        guard version == Self.stateVersion else {
            throw DecodingError.invalid("model state version \(version), this encmon reads \(Self.stateVersion)", at: c.codingPath)
        }
        self.init(configuration: try c.decode(MonitorConfiguration.self, forKey: .configuration))
        regions = try c.decode(SharedRegionMap.self, forKey: .regions)
        totals = try c.decode(MonitorTotals.self, forKey: .totals)
        rates = try c.decode(RateTracker.self, forKey: .rates)
        churn = try c.decode(ChurnTracker.self, forKey: .churn)
        migration = try c.decode(MigrationTracker.self, forKey: .migration)
        layout = try c.decodeIfPresent(GuestLayout.self, forKey: .layout)
        counters = try c.decode([String: KernelCounter].self, forKey: .counters)
        lastMarker = try c.decodeIfPresent(String.self, forKey: .lastMarker)
        origin = try c.decodeIfPresent(EventTime.self, forKey: .origin)
        now = try c.decode(EventTime.self, forKey: .now)
        observedSpan = try c.decodeIfPresent(PageRange.self, forKey: .observedSpan)
        recent = try c.decode([RecentChange].self, forKey: .recent)
        recentHead = try c.decode(Int.self, forKey: .recentHead)
        guard origin.map(Self.isUsableTime) ?? true, Self.isUsableTime(now),
              totals.conversionsByPath.count == ConversionPath.allCases.count,
              recent.count <= configuration.recentChangeLimit, recentHead >= 0, recentHead < Swift.max(1, recent.count) else {
            throw DecodingError.invalid("model state out of range", at: c.codingPath)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.stateVersion, forKey: .version)
        try c.encode(configuration, forKey: .configuration)
        try c.encode(regions, forKey: .regions)
        try c.encode(totals, forKey: .totals)
        try c.encode(rates, forKey: .rates)
        try c.encode(churn, forKey: .churn)
        try c.encode(migration, forKey: .migration)
        try c.encodeIfPresent(layout, forKey: .layout)
        try c.encode(counters, forKey: .counters)
        try c.encodeIfPresent(lastMarker, forKey: .lastMarker)
        try c.encodeIfPresent(origin, forKey: .origin)
        try c.encode(now, forKey: .now)
        try c.encodeIfPresent(observedSpan, forKey: .observedSpan)
        try c.encode(recent, forKey: .recent)
        try c.encode(recentHead, forKey: .recentHead)
    }
}

/// A cached event time with its region stamp and rate second (see `Monitor.clockKeys`). NaN
/// compares unequal to every time, so the empty cache always misses.
struct EventClockKeys: Sendable {
    var time: EventTime = .nan
    var stamp: UInt32 = 0
    var second: Int64 = 0
    /// Every time in `time...upper` has these keys (`.nan` until computed: no time matches).
    var upper: EventTime = .nan
}

