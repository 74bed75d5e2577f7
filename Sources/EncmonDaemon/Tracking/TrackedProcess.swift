#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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

    init(header: JournalHeader, journal: ProcessJournal, configuration: MonitorConfiguration,
         restoring state: JournalState? = nil, events: [MonitorEvent] = []) {
        self.header = header
        self.journal = journal
        var m = state?.monitor ?? Monitor(configuration: configuration)
        var firstLoss = state?.incompleteSince
        for e in events {
            m.apply(e)
            if case .lostEvents(let t, _) = e, firstLoss == nil { firstLoss = t }
        }
        monitor = m
        incompleteSince = firstLoss
        restoredUpTo = state == nil && events.isEmpty ? nil : m.now
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

    /// The model state as JSON, for a subscriber to start from.
    func encodedModel() throws -> [UInt8] {
        try Array(JSONEncoder().encode(monitor))
    }

    /// Writes the model state and restarts the journal (see `ProcessJournal`).
    func compactJournal() throws {
        try journal.compact(monitor, incompleteSince: incompleteSince)
    }
}
