import MonitorCore

/// What a subscriber to one process receives, in order.
public enum ProcessUpdate {
    /// Events as the model applied them.
    case events([MonitorEvent])
    /// The process has exited; no more events will come.
    case exited
}

/// One process's model, journal and subscribers. Lives on the daemon's event loop only.
public final class TrackedProcess {
    public let header: JournalHeader
    public private(set) var monitor: Monitor
    let journal: ProcessJournal
    /// Time of the first loss of events while this process was tracked: what follows is not the
    /// whole story ("incomplete since").
    public private(set) var incompleteSince: EventTime?
    public private(set) var exited = false
    /// The newest event time the journal held when the daemon started: a feed that re-delivers
    /// older events (the test feed re-reads its file) does not apply them twice.
    let restoredUpTo: EventTime?
    private var subscribers: [Int: (ProcessUpdate) -> Void] = [:]

    public var identity: ProcessIdentity { header.identity }

    init(header: JournalHeader, journal: ProcessJournal, configuration: MonitorConfiguration, restoring events: [MonitorEvent] = []) {
        self.header = header
        self.journal = journal
        var m = Monitor(configuration: configuration)
        var firstLoss: EventTime?
        for e in events {
            m.apply(e)
            if case .lostEvents(let t, _) = e, firstLoss == nil { firstLoss = t }
        }
        monitor = m
        incompleteSince = firstLoss
        restoredUpTo = events.isEmpty ? nil : m.now
    }

    /// Applies, journals and publishes events. Events already restored from the journal are skipped.
    func apply(_ events: [MonitorEvent]) throws {
        let fresh = restoredUpTo.map { upTo in events.filter { $0.time > upTo } } ?? events
        guard !fresh.isEmpty else { return }
        for e in fresh {
            monitor.apply(e)
            if case .lostEvents(let t, _) = e, incompleteSince == nil { incompleteSince = t }
        }
        try journal.append(fresh)
        for s in subscribers.values { s(.events(fresh)) }
        if journal.needsCompaction { try compactJournal() }
    }

    func markExited() {
        guard !exited else { return }
        exited = true
        for s in subscribers.values { s(.exited) }
        subscribers.removeAll()
        journal.close()
    }

    func addSubscriber(_ token: Int, _ handler: @escaping (ProcessUpdate) -> Void) { subscribers[token] = handler }
    func removeSubscriber(_ token: Int) { subscribers[token] = nil }
    public var subscriberCount: Int { subscribers.count }

    /// The journal's events, from the process's start (or the last compaction) up to now.
    func journalLines() throws -> [String] { try ProcessJournal.contents(of: journal.path).lines }

    /// Rewrites the journal as the current state: layout, counters, migration, one conversion per
    /// shared region in first-shared order, and the first loss. Rates and churn history are not
    /// kept (a restart after a compaction rebuilds the shared set and its ages, not past rates).
    func compactJournal() throws {
        let m = monitor
        let origin = m.origin ?? m.now
        var events: [MonitorEvent] = []
        if let l = m.layout { events.append(.layout(GuestLayout(time: origin, ranges: l.ranges))) }
        let regions = m.regions.sorted { $0.firstShared < $1.firstShared }
        for r in regions {
            events.append(.conversion(Conversion(time: m.time(ofStamp: r.firstShared), pages: r.pages, direction: .toShared,
                                                 pid: identity.pid, path: .recording)))
        }
        for c in m.counters.values.sorted(by: { $0.name < $1.name }) {
            events.append(.counter(time: c.time, name: c.name, value: c.value))
        }
        if let p = m.migration.latest { events.append(.migrationProgress(p)) }
        if let t = incompleteSince { events.append(.lostEvents(time: t, count: 0)) }
        if events.isEmpty || events[0].time > origin { events.insert(.marker(time: origin, text: "journal compacted"), at: 0) }
        try journal.compact(to: events, note: "compacted at t=\(m.now) after \(m.totals.events) events")
    }
}
