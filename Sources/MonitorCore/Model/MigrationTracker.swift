/// One pass as the monitor understood it: the source's own figures where it reports them, and
/// the encryption-state changes the monitor observed itself between two resyncs.
public struct MigrationPassSummary: Sendable, Hashable, Codable {
    public var pass: Int
    public var time: EventTime
    /// The source's record of the pass (simulator, recording); nil for QMP, which has none.
    public var record: MigrationPassRecord?
    /// Pages whose shared/private state differs between this resync and the previous one, as
    /// computed by the monitor from the conversions it saw.
    public var observedStateChanges: UInt64
    /// Regions in the shared set at this resync.
    public var regionsAtSync: Int
}

/// Migration state: the latest progress report, and at each pass boundary a comparison of the
/// shared set with the one synced at the previous pass, which is what the VMM must re-send.
public struct MigrationTracker: Sendable {
    public private(set) var latest: MigrationProgress?
    public private(set) var passes: [MigrationPassSummary] = []
    /// The shared set as synced at the last pass boundary.
    private var synced: SharedRegionMap?
    private var lastSyncedPass = 0

    public init() {}

    public var isActive: Bool { latest != nil || !passes.isEmpty }

    mutating func progress(_ p: MigrationProgress, current: SharedRegionMap) {
        latest = p
        // QMP reports passes only as dirty-sync-count: resync when it moves.
        if p.pass > lastSyncedPass && !passes.contains(where: { $0.pass == p.pass }) {
            resync(pass: p.pass, time: p.time, record: nil, current: current)
        }
    }

    mutating func pass(_ r: MigrationPassRecord, current: SharedRegionMap) {
        if let i = passes.firstIndex(where: { $0.pass == r.pass && $0.record == nil }) {
            passes[i].record = r
            return
        }
        resync(pass: r.pass, time: r.endTime, record: r, current: current)
    }

    private mutating func resync(pass: Int, time: EventTime, record: MigrationPassRecord?, current: SharedRegionMap) {
        let changed = synced.map { SharedRegionMap.symmetricDifferencePages($0, current) } ?? 0
        passes.append(MigrationPassSummary(pass: pass, time: time, record: record,
                                           observedStateChanges: changed, regionsAtSync: current.count))
        synced = current
        lastSyncedPass = max(lastSyncedPass, pass)
    }
}

extension SharedRegionMap {
    /// Pages shared in exactly one of the two maps. O(n + m) in the region counts.
    public static func symmetricDifferencePages(_ a: SharedRegionMap, _ b: SharedRegionMap) -> UInt64 {
        // |A xor B| = |A| + |B| - 2 |A and B|; the intersection comes from one merge walk.
        var ia = a.makeIterator(), ib = b.makeIterator()
        var ra = ia.next(), rb = ib.next()
        var both: UInt64 = 0
        while let x = ra, let y = rb {
            let lo = Swift.max(x.pages.lower, y.pages.lower), hi = Swift.min(x.pages.upper, y.pages.upper)
            if lo < hi { both += hi - lo }
            if x.pages.upper <= y.pages.upper { ra = ia.next() } else { rb = ib.next() }
        }
        return a.sharedPages + b.sharedPages - 2 * both
    }
}

/// Serialisable as it is (the daemon journals it); synthesised, so every stored field travels.
extension MigrationTracker: Codable {}
