/// The VMM side of a pre-copy live migration (QEMU's RAM migration, with the encryption-state
/// resync the 2020-21 SEV live-migration series proposed).
///
/// Pass 1 sends all RAM. At each later pass boundary the dirty log is synced, and so is the shared
/// set: pages whose shared/private state differs from the previous sync must travel again (their
/// transfer format changed), unless they are dirty anyway. Shared pages go as plain data at link
/// speed, private pages through the slower encrypted path. Once the remainder fits the downtime
/// limit the guest stops for the last pass (stop-and-copy).
struct PrecopyMigration: Sendable {
    let linkBytesPerSecond: Double
    let encryptedBytesPerSecond: Double
    let downtimeLimit: Double
    let maxPasses: Int
    let ramPages: UInt64
    /// The guest's page writes per second (unique dirty pages per second saturate below it).
    let guestWritesPerSecond: Double
    let spanPages: UInt64
    /// `{gfn_start, gfn_end}` as two u64 (KVM_GET_SHARED_PAGES_LIST, v10 of the series).
    static let rangeEntryBytes: UInt64 = 16

    private(set) var status: MigrationStatus = .setup
    private(set) var pass = 0
    let startTime: Double
    private(set) var passStart: Double
    private(set) var passEnd: Double
    private var passPages: UInt64 = 0
    private var passSharedPages: UInt64 = 0
    private var passChanged: UInt64 = 0
    private var passResent: UInt64 = 0
    private var passRegions = 0
    private(set) var transferredBytes: UInt64 = 0  // finished passes
    private var dirty: PageBitmap
    private(set) var dirtyCount: UInt64 = 0
    private var synced: PageBitmap
    private(set) var records: [MigrationPassRecord] = []
    private(set) var downtime: Double?
    private(set) var note: String?

    init(configuration c: SimulatorConfiguration, plan: GuestMemoryPlan, start: Double) {
        linkBytesPerSecond = c.linkBandwidthBytesPerSecond
        encryptedBytesPerSecond = c.encryptedPathBytesPerSecond
        downtimeLimit = c.downtimeLimitSeconds
        maxPasses = c.maxPasses
        ramPages = plan.ramPages
        guestWritesPerSecond = c.dirtyPagesPerSecond
        spanPages = plan.spanPages
        startTime = start; passStart = start; passEnd = start
        dirty = PageBitmap(pageCount: plan.spanPages)
        synced = PageBitmap(pageCount: plan.spanPages)
    }

    var isRunning: Bool { status == .setup || status == .active || status == .stopAndCopy }

    /// Seconds to send these pages.
    func seconds(shared: UInt64, private p: UInt64) -> Double {
        Double(shared * GuestPage.size) / linkBytesPerSecond + Double(p * GuestPage.size) / encryptedBytesPerSecond
    }

    mutating func markDirty(_ page: UInt64) {
        if dirty.insert(page) { dirtyCount += 1 }
    }

    /// What the next pass would send if it started now: (pages, of which shared).
    func pendingPages(shared: PageBitmap) -> (pages: UInt64, shared: UInt64) {
        let resent = shared.differenceCount(synced, excluding: dirty)
        return (dirtyCount + resent, shared.intersectionCount(dirty: dirty, changedBetween: synced, and: shared))
    }

    /// Syncs the dirty log and the shared set and starts pass `pass + 1` at `t`.
    mutating func beginPass(at t: Double, shared: PageBitmap, stopAndCopy: Bool) {
        pass += 1
        if pass == 1 {
            passPages = ramPages
            passSharedPages = shared.count
            passChanged = 0; passResent = 0
        } else {
            passChanged = shared.differenceCount(synced)
            passResent = shared.differenceCount(synced, excluding: dirty)
            passPages = dirtyCount + passResent
            passSharedPages = shared.intersectionCount(dirty: dirty, changedBetween: synced, and: shared)
        }
        passRegions = shared.runCount
        synced = shared
        dirty.removeAll(); dirtyCount = 0
        passStart = t
        passEnd = t + seconds(shared: passSharedPages, private: passPages - passSharedPages)
        status = stopAndCopy ? .stopAndCopy : .active
    }

    /// Closes the running pass at `passEnd`.
    mutating func endPass() -> MigrationPassRecord {
        let r = MigrationPassRecord(
            pass: pass, isStopAndCopy: status == .stopAndCopy, startTime: passStart, endTime: passEnd,
            pagesSent: passPages, sharedPagesSent: passSharedPages,
            pagesDirtied: status == .stopAndCopy ? 0 : dirtyCount,
            pagesResentForEncryption: passResent, pagesChangedState: passChanged,
            resyncBitmapBytes: (spanPages + 7) / 8,
            resyncRangeListBytes: UInt64(passRegions) * Self.rangeEntryBytes)
        records.append(r)
        transferredBytes += passPages * GuestPage.size
        return r
    }

    mutating func complete() {
        status = .completed
        downtime = passEnd - passStart
    }

    mutating func fail(note: String) {
        status = .failed
        self.note = note
    }

    /// Unique pages dirtied per second in the running pass.
    func dirtyRate(at t: Double) -> Double {
        t > passStart ? Double(dirtyCount) / (t - passStart) : (records.last.map { r in
            r.endTime > r.startTime ? Double(r.pagesDirtied) / (r.endTime - r.startTime) : 0 } ?? 0)
    }

    /// A QMP-like report at `t`.
    func progress(at t: Double, sharedFraction f: Double) -> MigrationProgress {
        let passBytes = passPages * GuestPage.size
        var sent: UInt64 = 0, remaining: UInt64 = 0
        switch status {
        case .active, .stopAndCopy:
            let frac = passEnd > passStart ? Swift.min(1, Swift.max(0, (t - passStart) / (passEnd - passStart))) : 1
            sent = UInt64(Double(passBytes) * frac)
            remaining = passBytes - sent
        case .setup:
            remaining = ramPages * GuestPage.size
        default:
            break
        }
        let passSeconds = passEnd - passStart
        let throughput = passSeconds > 0 ? Double(passBytes) / passSeconds : linkBytesPerSecond
        let perPage = Double(GuestPage.size) * (f / linkBytesPerSecond + (1 - f) / encryptedBytesPerSecond)
        let expected: Double? = switch status {
        case .completed: downtime
        case .stopAndCopy: passSeconds
        case .active: Double(dirtyCount) * perPage
        default: nil
        }
        var note = self.note
        let rate = dirtyRate(at: t)
        let writeBytes = guestWritesPerSecond * Double(GuestPage.size)
        if note == nil, status == .active, writeBytes >= encryptedBytesPerSecond {
            note = "guest dirties \(ByteFormat.human(writeBytes))/s, more than the encrypted path's \(ByteFormat.human(encryptedBytesPerSecond))/s: pre-copy may not converge"
        }
        return MigrationProgress(time: t, status: status, pass: pass,
                                 ramTransferredBytes: transferredBytes + (status == .completed || status == .failed ? 0 : sent),
                                 ramRemainingBytes: remaining, ramTotalBytes: ramPages * GuestPage.size,
                                 dirtyPagesPerSecond: rate, bandwidthBytesPerSecond: throughput,
                                 downtimeSeconds: expected, note: note)
    }
}
