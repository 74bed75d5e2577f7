/// One pass as the monitor understood it: the source's own figures where it reports them, and
/// the encryption-state changes the monitor observed itself between two resyncs.
public struct MigrationPassSummary: Sendable, Hashable, Codable {
    public var pass: Int
    public var time: EventTime
    /// The source's record of the pass (simulator, recording); nil for QMP, which has none.
    public var record: MigrationPassRecord?
    /// Pages whose shared/private state differs between this resync and the previous one, as
    /// computed by the monitor from the conversions it saw: the pages the VMM must send again.
    public var observedStateChanges: UInt64
    /// Conversions the monitor saw since the previous resync (since the migration began, for the first).
    public var conversionsSincePreviousSync: UInt64
    /// Regions in the shared set at this resync.
    public var regionsAtSync: Int
}

/// Migration state: the latest progress report, and at each pass boundary a comparison of the
/// shared set with the one synced at the previous pass, which is what the VMM must re-send.
///
/// One tracker follows every migration of a VM in turn: a report that starts a new migration
/// (a running status after an idle one, or a pass counter that went back) clears the passes.
/// The pass history keeps the newest `maxPassHistory` summaries.
public struct MigrationTracker: Sendable {
    /// Enough for any converging pre-copy; a migration that never converges drops its oldest passes.
    public static let maxPassHistory = 256

    public private(set) var latest: MigrationProgress?
    public private(set) var passes: [MigrationPassSummary] = []
    /// Summaries dropped from the front of `passes` in this migration (history bound).
    public private(set) var droppedPassSummaries: UInt64 = 0
    /// Migrations seen so far, the current one included (0 before the first report).
    public private(set) var migrationsSeen = 0
    /// The shared set as synced at the last pass boundary.
    private var synced: SharedRegionMap?
    private var lastSyncedPass = 0
    /// The monitor's conversion count at the last resync (or at the migration's start).
    private var conversionsAtSync: UInt64?

    public init() {}

    public var isActive: Bool { latest != nil || !passes.isEmpty }

    /// A progress report. `conversions` is the monitor's running count of conversions.
    mutating func progress(_ p: MigrationProgress, current: SharedRegionMap, conversions: UInt64) {
        if startsNewMigration(p) { beginMigration() }
        if conversionsAtSync == nil { conversionsAtSync = conversions }
        latest = p
        // QMP reports passes only as dirty-sync-count: resync when it moves.
        if p.pass > lastSyncedPass {
            resync(pass: p.pass, time: p.time, record: nil, current: current, conversions: conversions)
        }
    }

    mutating func pass(_ r: MigrationPassRecord, current: SharedRegionMap, conversions: UInt64) {
        if latest == nil && passes.isEmpty { beginMigration() }
        if conversionsAtSync == nil { conversionsAtSync = conversions }
        // Summaries made from progress reports get their record when it arrives; it is one of the newest.
        if let i = passes.lastIndex(where: { $0.pass == r.pass }), passes[i].record == nil {
            passes[i].record = r
            return
        }
        resync(pass: r.pass, time: r.endTime, record: r, current: current, conversions: conversions)
    }

    private func startsNewMigration(_ p: MigrationProgress) -> Bool {
        if p.status.isIdle { return false }
        guard let previous = latest else { return passes.isEmpty }
        // QEMU resets dirty-sync-count per migration: a lower count is a new one even when the
        // final status of the previous one was never seen between two polls.
        return previous.status.isIdle || p.pass < previous.pass
    }

    private mutating func beginMigration() {
        passes.removeAll(keepingCapacity: true)
        droppedPassSummaries = 0
        synced = nil
        lastSyncedPass = 0
        conversionsAtSync = nil
        migrationsSeen += 1
    }

    private mutating func resync(pass: Int, time: EventTime, record: MigrationPassRecord?, current: SharedRegionMap,
                                 conversions: UInt64) {
        let changed = synced.map { SharedRegionMap.symmetricDifferencePages($0, current) } ?? 0
        let base = conversionsAtSync ?? conversions
        passes.append(MigrationPassSummary(pass: pass, time: time, record: record, observedStateChanges: changed,
                                           conversionsSincePreviousSync: conversions >= base ? conversions - base : 0,
                                           regionsAtSync: current.count))
        if passes.count > Self.maxPassHistory {
            passes.removeFirst(passes.count - Self.maxPassHistory)
            droppedPassSummaries += 1
        }
        synced = current
        conversionsAtSync = conversions
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
