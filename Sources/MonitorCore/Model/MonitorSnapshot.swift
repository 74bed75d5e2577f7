/// Everything the view draws, taken from the model at one moment. The view reads it and never
/// mutates the model. The region map inside is a copy-on-write value: drop the snapshot before
/// the model applies more events, or the next update copies the map.
public struct MonitorSnapshot: Sendable {
    public var time: EventTime
    public var trackingSince: EventTime?
    public var totals: MonitorTotals
    public var regions: SharedRegionMap
    public var guestSpan: PageRange
    public var layout: GuestLayout?
    public var rates: [RateFigures]
    public var history: [RateSample]
    public var churnWindow: EventTime
    public var totalFlips: UInt64
    public var mostFlipped: [FlippedBuffer]
    /// Flip counts by address, for the region table's flips column.
    public var flipIndex: FlipIndex
    public var trackingCost: TrackingCost
    public var recentChanges: [RecentChange]
    public var counters: [KernelCounter]
    public var migration: MigrationTracker
    public var poolWhatIf: [PoolWhatIf]
    public var lastMarker: String?
    /// The rate over the shortest window (1 s).
    public var currentRates: RateFigures { rates.first ?? RateFigures(window: 1) }

    public init(_ m: Monitor, highlightSeconds: EventTime = 5) {
        time = m.now
        trackingSince = m.origin
        totals = m.totals
        regions = m.regions
        guestSpan = m.guestSpan
        layout = m.layout
        rates = [1, 10, 60].map { m.rates.figures(window: $0) }
        history = m.rates.history(seconds: m.rates.historySeconds)
        churnWindow = m.churn.window
        totalFlips = m.churn.totalFlips
        mostFlipped = m.churn.mostFlipped(limit: 10)
        flipIndex = FlipIndex(m.churn.flippedBuffers())
        trackingCost = m.trackingCost
        recentChanges = m.recentChanges(within: highlightSeconds)
        counters = m.counters.values.sorted { $0.name < $1.name }
        migration = m.migration
        poolWhatIf = m.churn.poolWhatIf(totalConversions: m.totals.conversions)
        lastMarker = m.lastMarker
    }

    /// Event time of a region stamp.
    public func time(ofStamp s: UInt32) -> EventTime { (trackingSince ?? 0) + Double(s) / Monitor.stampsPerSecond }
}
