/// A deterministic confidential guest: boot, DMA churn, a hostile fragmenter, and a VMM migrating
/// it. The same configuration (seed included) gives the same events, whatever `until` and `limit`
/// the caller chunks time with: actions run in (time, schedule order) from a queue, each emits
/// its events at its own time, and `until` only decides how far the queue is drained.
///
/// Simulated time starts at 0 and is in seconds. No wall clock, no system randomness.
public struct GuestSimulator: Sendable {
    public let configuration: SimulatorConfiguration
    public let plan: GuestMemoryPlan

    /// When boot is over and the scenario proper starts.
    public static let bootSeconds: Double = 4
    /// A flip's life: DMA mappings live from a millisecond to a couple of seconds.
    static let churnLife = (min: 0.001, max: 2.0)
    static let largeLife = (min: 0.05, max: 5.0)
    /// Half of the guest's page writes go to a hot set of up to 64 MiB.
    static let hotFraction = 0.5
    static let hotSetPages: UInt64 = 16_384
    static let hostileBatchSeconds = 0.001

    private var rng: SimulatorRandom
    private var queue = SimulatorActionQueue()
    private var pending: [MonitorEvent] = []
    private var pendingHead = 0
    /// The exact shared set (the Monitor's map may be approximate; this never is).
    private var shared: PageBitmap
    private var conversionsEmitted: UInt64 = 0

    private let workingSet: [UInt64]
    private var workingSetInUse: [Bool]
    private var largeInUse: [Bool]
    private var churnRunning = false
    private let hotChunks: [UInt64]

    private var migration: PrecopyMigration?
    private var dirtyClock = 0.0
    private var dirtyCarry = 0.0
    /// The guest is stopped in `pausedFrom ..< pausedUntil` (stop-and-copy).
    private var pausedFrom = 0.0
    private var pausedUntil = 0.0
    private var endAfterMigration = false
    /// Consecutive passes that sent no less than the one before (see `stalledPassLimit`).
    private var stalled = 0

    private var hostileNext: UInt64 = 0
    private var hostileCarry = 0.0

    /// The last marker delivered: the scenario's current phase.
    public private(set) var phase = "starting"
    /// Events delivered so far.
    public private(set) var eventsDelivered: UInt64 = 0

    public init(configuration c: SimulatorConfiguration) throws(SimulatorConfigurationError) {
        try c.validate()
        configuration = c
        plan = GuestMemoryPlan(c)
        var random = SimulatorRandom(seed: c.seed)
        shared = PageBitmap(pageCount: plan.spanPages)

        // DMA working set: clusters of 16 pages in the churn zone (the page allocator's free
        // lists hand the same pages out again).
        var picked = Set<UInt64>(), ws: [UInt64] = []
        let zone = plan.churnZone, want = Swift.min(c.churnWorkingSetPages, Int(zone.count / 2))
        var attempts = 0
        while ws.count < want && attempts < 100_000 {
            attempts += 1
            let start = zone.lower + random.below(zone.count - 16) / 16 * 16
            for p in start..<(start + 16) where ws.count < want && picked.insert(p).inserted { ws.append(p) }
        }
        workingSet = ws.sorted()
        workingSetInUse = Array(repeating: false, count: ws.count)
        largeInUse = Array(repeating: false, count: plan.largeBufferSlots.count)
        let hotPages = Swift.min(Self.hotSetPages, plan.ramPages / 8) / 512 * 512
        var hot: [UInt64] = []
        for _ in 0..<(hotPages / 512) { hot.append(random.below(plan.ramPages / 512) * 512) }
        hotChunks = hot
        self.rng = random
        schedule()
    }

    // MARK: Delivery

    /// Appends the events with time ≤ `until`, at most `limit` of them. Returns false once the
    /// scenario is over and everything has been delivered.
    public mutating func events(until: EventTime, limit: Int = .max, into out: inout [MonitorEvent]) -> Bool {
        var n = 0
        while n < limit {
            if pendingHead < pending.count {
                let e = pending[pendingHead]
                if e.time > until { return true }
                out.append(e)
                pendingHead += 1; n += 1; eventsDelivered += 1
                if case .marker(_, let text) = e { phase = text }
                continue
            }
            if !refill(until: until) { return !isFinished }
        }
        return !isFinished
    }

    /// Time of the next event, computing ahead as needed; nil once the scenario is over.
    public mutating func peekNextTime() -> EventTime? {
        while pendingHead >= pending.count {
            if !refill(until: .infinity) { return nil }
        }
        return pending[pendingHead].time
    }

    /// True once the scenario is over and every event was delivered.
    public var isFinished: Bool { pendingHead >= pending.count && queue.isEmpty }

    /// Regions (maximal shared runs) of the exact shared set, as generated so far. O(span / 64).
    public var sharedRegionCount: Int { shared.runCount }
    /// Shared pages of the exact shared set, as generated so far. O(span / 64).
    public var sharedPageCount: UInt64 { shared.count }

    /// The migration's pass records so far (also emitted as `.migrationPass` events).
    public var migrationPasses: [MigrationPassRecord] { migration?.records ?? [] }

    /// Runs actions up to `until` until one of them produces events; false when none can.
    private mutating func refill(until: EventTime) -> Bool {
        pending.removeAll(keepingCapacity: true); pendingHead = 0
        while pending.isEmpty {
            guard let t = queue.nextTime, t <= until, let (time, action) = queue.pop() else { return false }
            run(action, at: time)
        }
        return true
    }

    // MARK: Scenario

    private mutating func schedule() {
        let c = configuration
        queue.push(.scripted(.layout(GuestLayout(time: 0, ranges: plan.layout))), at: 0)
        for (t, e) in bootScript() { queue.push(.scripted(e), at: t) }
        queue.push(.kernelStats, at: 1)
        let boot = Self.bootSeconds
        switch c.scenario {
        case .boot:
            queue.push(.end, at: boot + 1)
        case .steady:
            queue.push(.startChurn, at: boot)
            queue.push(.end, at: boot + c.steadySeconds)
        case .migrate:
            queue.push(.startChurn, at: boot)
            queue.push(.startMigration, at: boot + c.steadySeconds)
            endAfterMigration = true
        case .tour:
            queue.push(.startChurn, at: boot)
            queue.push(.startMigration, at: boot + c.steadySeconds)
            queue.push(.end, at: Swift.max(c.tourSeconds, boot + c.steadySeconds))
        case .hostile:
            queue.push(.hostileStart, at: boot)
        }
    }

    /// Firmware, then the kernel (E820 encrypt calls, then its shared ranges), then drivers.
    private func bootScript() -> [(Double, MonitorEvent)] {
        var s: [(Double, MonitorEvent)] = []
        func marker(_ t: Double, _ text: String) { s.append((t, .marker(time: t, text: text))) }
        func convert(_ t: Double, _ r: PageRange, _ d: ConversionDirection, leaves: Bool = true, vcpu: Int32 = 0) {
            for p in leaves ? GuestMemoryPlan.leafCalls(r) : [r] {
                s.append((t, .conversion(Conversion(time: t, pages: p, direction: d, vcpu: vcpu, path: .simulator))))
            }
        }
        marker(0, "boot: firmware shares its pages")
        let statics = plan.staticShared
        for (i, r) in statics.filter({ $0.owner == .firmware }).enumerated() { convert(0.05 * Double(i + 1), r.pages, .toShared) }
        marker(0.8, "boot: kernel marks RAM encrypted per E820 entry, then shares")
        // arch/x86/kernel/kvm.c kvm_init_platform: one ENCRYPTED call per E820 RAM entry.
        for (i, r) in plan.e820RAM.enumerated() { convert(0.8 + 0.001 * Double(i), r, .toPrivate, leaves: false) }
        var t = 0.81
        for r in statics where r.owner == .kernel {
            convert(t, r.pages, .toShared, vcpu: r.name.hasPrefix("GHCB vCPU ") ? Int32(r.name.dropFirst(10)) ?? 0 : 0)
            t += 0.02
        }
        for r in statics where r.keptPages < r.pages.count {
            convert(1.6, PageRange(lower: r.pages.lower + r.keptPages, upper: r.pages.upper), .toPrivate)
        }
        marker(2.0, "boot: drivers share their virtio rings")
        for (i, r) in statics.filter({ $0.owner == .driver }).enumerated() { convert(2.0 + 0.15 * Double(i + 1), r.pages, .toShared) }
        return s
    }

    // MARK: Actions

    private mutating func emit(_ e: MonitorEvent) {
        if case .conversion(let c) = e {
            shared.assign(c.pages, to: c.direction == .toShared)
            conversionsEmitted += 1
        }
        pending.append(e)
    }

    private mutating func convert(_ pages: PageRange, _ d: ConversionDirection, at t: Double, vcpu: Int32) {
        emit(.conversion(Conversion(time: t, pages: pages, direction: d, vcpu: vcpu, path: .simulator)))
    }

    private var isPaused: Bool { pausedUntil > pausedFrom }

    private mutating func run(_ action: SimulatorAction, at t: Double) {
        advanceDirtying(to: t)
        // A stopped guest neither converts nor fragments: its actions wait for it to resume.
        if isPaused && t < pausedUntil {
            switch action {
            case .churnArrival, .churnRelease, .largeArrival, .largeRelease, .hostileBatch:
                queue.push(action, at: pausedUntil + (t - pausedFrom)); return
            default: break
            }
        }
        let c = configuration
        switch action {
        case .scripted(let e):
            emit(e)
        case .kernelStats:
            // KVM binary stat `hypercalls`: the guest's conversions, cumulative.
            emit(.counter(time: t, name: "hypercalls", value: conversionsEmitted))
            queue.push(.kernelStats, at: t + 1)
        case .startChurn:
            emit(.marker(time: t, text: "steady: DMA churn (\(Int(c.churnConversionsPerSecond)) conversions/s)"))
            churnRunning = true
            if c.churnConversionsPerSecond > 0, !workingSet.isEmpty {
                queue.push(.churnArrival, at: t + rng.exponential(mean: 2 / c.churnConversionsPerSecond))
            }
            if c.largeBufferFlipsPerSecond > 0 {
                queue.push(.largeArrival, at: t + rng.exponential(mean: 1 / c.largeBufferFlipsPerSecond))
            }
        case .churnArrival:
            churnArrival(at: t)
        case .churnRelease(let i):
            workingSetInUse[i] = false
            convert(PageRange(first: workingSet[i], count: 1), .toPrivate, at: t, vcpu: vcpu())
        case .largeArrival:
            largeArrival(at: t)
        case .largeRelease(let i):
            largeInUse[i] = false
            convert(PageRange(first: plan.largeBufferSlots[i], count: 512), .toPrivate, at: t, vcpu: vcpu())
        case .hostileStart:
            emit(.marker(time: t, text: "hostile: guest shares one page in every \(c.hostileStridePages)"))
            queue.push(.hostileBatch, at: t)
        case .hostileBatch:
            hostileBatch(at: t)
        case .startMigration:
            emit(.marker(time: t, text: "migration: pre-copy (\(ByteFormat.human(c.linkBandwidthBytesPerSecond))/s link, encrypted path \(ByteFormat.human(c.encryptedPathBytesPerSecond))/s)"))
            let m = PrecopyMigration(configuration: c, plan: plan, start: t)
            emit(.migrationProgress(m.progress(at: t, sharedFraction: sharedFraction)))
            migration = m
            dirtyClock = t
            queue.push(.firstPass, at: t + 0.05)
            queue.push(.migrationTick, at: t + c.progressIntervalSeconds)
        case .firstPass:
            beginPass(at: t, stopAndCopy: false)
        case .migrationTick:
            guard let m = migration, m.isRunning else { return }
            emit(.migrationProgress(m.progress(at: t, sharedFraction: sharedFraction)))
            queue.push(.migrationTick, at: t + c.progressIntervalSeconds)
        case .passEnd:
            passEnd(at: t)
        case .stopAndCopyEnd:
            stopAndCopyEnd(at: t)
        case .end:
            if let m = migration, m.isRunning { endAfterMigration = true; return }
            emit(.marker(time: t, text: "end of \(c.scenario.rawValue) scenario"))
            queue = SimulatorActionQueue()
            churnRunning = false
        }
    }

    /// A small DMA buffer made shared in a free working-set slot; released after a log-uniform life.
    private mutating func churnArrival(at t: Double) {
        guard churnRunning else { return }
        let c = configuration
        let n = workingSet.count
        var i = Int(rng.below(UInt64(n)))
        var probes = 0
        while workingSetInUse[i] && probes < n { i = (i + 1) % n; probes += 1 }
        if !workingSetInUse[i] {
            workingSetInUse[i] = true
            convert(PageRange(first: workingSet[i], count: 1), .toShared, at: t, vcpu: vcpu())
            queue.push(.churnRelease(slot: i), at: t + rng.logUniform(Self.churnLife.min, Self.churnLife.max))
        }
        queue.push(.churnArrival, at: t + rng.exponential(mean: 2 / c.churnConversionsPerSecond))
    }

    /// A 2 MiB buffer made shared, if its slot is free; released after a log-uniform life.
    private mutating func largeArrival(at t: Double) {
        guard churnRunning else { return }
        let c = configuration
        let i = Int(rng.below(UInt64(largeInUse.count)))
        if !largeInUse[i] {
            largeInUse[i] = true
            // A 2 MiB-aligned 512-page buffer is one leaf: one call each way.
            convert(PageRange(first: plan.largeBufferSlots[i], count: 512), .toShared, at: t, vcpu: vcpu())
            queue.push(.largeRelease(slot: i), at: t + rng.logUniform(Self.largeLife.min, Self.largeLife.max))
        }
        queue.push(.largeArrival, at: t + rng.exponential(mean: 1 / c.largeBufferFlipsPerSecond))
    }

    /// The hostile phase: one page in every `hostileStridePages` made shared, at the configured rate.
    private mutating func hostileBatch(at t: Double) {
        let c = configuration
        hostileCarry += c.hostileConversionsPerSecond * Self.hostileBatchSeconds
        var k = Int(hostileCarry)
        hostileCarry -= Double(k)
        while k > 0 && hostileNext < plan.ramPages {
            convert(PageRange(first: plan.page(ramIndex: hostileNext), count: 1), .toShared, at: t, vcpu: vcpu())
            hostileNext += c.hostileStridePages; k -= 1
        }
        if hostileNext < plan.ramPages {
            queue.push(.hostileBatch, at: t + Self.hostileBatchSeconds)
        } else {
            emit(.marker(time: t, text: "hostile: done, \(shared.runCount) shared regions"))
            queue.push(.startChurn, at: t)
            queue.push(.end, at: t + c.steadySeconds)
        }
    }

    /// The guest resumes on the destination: the last pass, the totals, the downtime.
    private mutating func stopAndCopyEnd(at t: Double) {
        guard var m = migration else { return }
        emit(.migrationPass(m.endPass()))
        m.complete()
        migration = m
        emit(.migrationProgress(m.progress(at: t, sharedFraction: sharedFraction)))
        let ms = Int(((m.downtime ?? 0) * 1000).rounded())
        emit(.marker(time: t, text: "migration: completed in \(m.pass) passes, downtime \(ms) ms"))
        finishMigration(at: t)
    }

    private mutating func vcpu() -> Int32 { Int32(rng.below(UInt64(configuration.vcpus))) }

    private var sharedFraction: Double { Double(shared.count) / Double(plan.ramPages) }

    private mutating func beginPass(at t: Double, stopAndCopy: Bool) {
        guard var m = migration else { return }
        m.beginPass(at: t, shared: shared, stopAndCopy: stopAndCopy)
        // Reported at the sync itself, so a monitor resyncs on exactly this shared set.
        emit(.migrationProgress(m.progress(at: t, sharedFraction: sharedFraction)))
        if stopAndCopy {
            emit(.marker(time: t, text: "migration: stop-and-copy (pass \(m.pass))"))
            pausedFrom = t; pausedUntil = m.passEnd
            queue.push(.stopAndCopyEnd, at: m.passEnd)
        } else {
            queue.push(.passEnd, at: m.passEnd)
        }
        migration = m
    }

    private mutating func passEnd(at t: Double) {
        guard var m = migration else { return }
        emit(.migrationPass(m.endPass()))
        let next = m.pendingPages(shared: shared)
        let downtime = m.seconds(shared: next.shared, private: next.pages - next.shared)
        migration = m
        if downtime <= m.downtimeLimit {
            beginPass(at: t, stopAndCopy: true)
        } else if m.pass >= m.maxPasses || stalledPasses(after: m, next: next.pages) >= Self.stalledPassLimit {
            let c = configuration
            let dirtyBytes = c.dirtyPagesPerSecond * Double(GuestPage.size)
            var why = "does not converge after \(m.pass) passes: \(ByteFormat.human(next.pages * GuestPage.size)) still to send needs "
                + "\(Int((downtime * 1000).rounded())) ms of downtime (limit \(Int((m.downtimeLimit * 1000).rounded())) ms)"
            why += dirtyBytes >= c.encryptedPathBytesPerSecond
                ? "; the guest dirties \(ByteFormat.human(dirtyBytes))/s, at least what the link sends (\(ByteFormat.human(c.linkBandwidthBytesPerSecond))/s, encrypted path \(ByteFormat.human(c.encryptedPathBytesPerSecond))/s)"
                : "; raise the downtime limit or the bandwidth"
            m.fail(note: why)
            migration = m
            emit(.migrationProgress(m.progress(at: t, sharedFraction: sharedFraction)))
            emit(.marker(time: t, text: "migration: failed, \(why)"))
            finishMigration(at: t)
        } else {
            beginPass(at: t, stopAndCopy: false)
        }
    }

    /// Passes in a row that did not shrink what is left to send: pre-copy is not converging.
    static let stalledPassLimit = 3

    private mutating func stalledPasses(after m: PrecopyMigration, next: UInt64) -> Int {
        if let last = m.records.last, m.pass > 1, next >= last.pagesSent { stalled += 1 } else { stalled = 0 }
        return stalled
    }

    private mutating func finishMigration(at t: Double) {
        pausedFrom = 0; pausedUntil = 0
        if migration?.status == .completed && configuration.scenario == .tour {
            emit(.marker(time: t, text: "steady: guest running on the destination"))
        }
        if endAfterMigration { queue.push(.end, at: t + 2) }
    }

    /// The guest's page writes while a migration runs (they feed the dirty log), up to `t`.
    private mutating func advanceDirtying(to t: Double) {
        guard var m = migration, m.isRunning else { return }
        defer { dirtyClock = Swift.max(dirtyClock, t) }
        guard t > dirtyClock, !(isPaused && t <= pausedUntil), m.status != .stopAndCopy else { return }
        dirtyCarry += configuration.dirtyPagesPerSecond * (t - dirtyClock)
        var writes = UInt64(min(dirtyCarry, 1e15))
        dirtyCarry -= Double(writes)
        // Work per call stays bounded: once every RAM page is dirty, more writes change nothing,
        // and past a few writes per page the few pages still clean are a rounding error.
        if m.dirtyCount >= plan.ramPages { return }
        writes = min(writes, 4 * plan.ramPages)
        while writes > 0 {
            let page: UInt64
            if !hotChunks.isEmpty && rng.unit() < Self.hotFraction {
                page = plan.page(ramIndex: hotChunks[Int(rng.below(UInt64(hotChunks.count)))] + rng.below(512))
            } else {
                page = plan.page(ramIndex: rng.below(plan.ramPages))
            }
            m.markDirty(page)
            writes -= 1
        }
        migration = m
    }
}
