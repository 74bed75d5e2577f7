import SystemLibc
import LiveHost
import MonitorCore

/// How a request names a process: its pid, or its name (a VM's QEMU `-name`, or the command name).
public enum ProcessSelector: Sendable, Hashable, CustomStringConvertible {
    case pid(Int32)
    case name(String)
    public var description: String {
        switch self {
        case .pid(let p): "pid \(p)"
        case .name(let n): "'\(n)'"
        }
    }
}

/// Every tracked process, keyed by identity: the daemon's whole state. Lives on the daemon's
/// event loop only; the feed's batches are brought there.
public final class ProcessTable {
    public let stateDirectory: String
    public let configuration: MonitorConfiguration
    public let journalMaxBytes: UInt64
    /// CLOCK_BOOTTIME when this daemon (or the first daemon of this state directory) started.
    let trackingEpoch: Double
    private var byPid: [Int32: TrackedProcess] = [:]
    private var exitedProcesses: [ProcessIdentity: TrackedProcess] = [:]
    private var nextToken = 1
    /// Journal problems, for the log.
    public private(set) var warnings: [String] = []

    public init(stateDirectory: String, configuration: MonitorConfiguration, journalMaxBytes: UInt64, trackingEpoch: Double) {
        self.stateDirectory = stateDirectory
        self.configuration = configuration
        self.journalMaxBytes = journalMaxBytes
        self.trackingEpoch = trackingEpoch
    }

    /// Rebuilds every model from the journals in the state directory. Processes that no longer
    /// run are kept as exited.
    public func restore() {
        for name in Self.journalNames(in: stateDirectory) {
            let path = stateDirectory + "/" + name
            do {
                let contents = try ProcessJournal.contents(of: path)
                warnings += contents.warnings
                var header = contents.header
                let stale = contents.state.map { $0.generation > header.generation } ?? false
                if let s = contents.state { header.generation = s.generation }
                let journal = try ProcessJournal(path: path, header: header, maxBytes: journalMaxBytes, reset: stale)
                let p = TrackedProcess(header: header, journal: journal, configuration: configuration,
                                       restoring: contents.state, events: contents.events)
                if ProcFS.isRunning(header.identity), byPid[header.identity.pid] == nil {
                    byPid[header.identity.pid] = p
                } else {
                    p.markExited()
                    exitedProcesses[header.identity] = p
                }
            } catch {
                warnings.append("\(error)")
            }
        }
    }

    /// Applies one batch from the feed, in order.
    public func apply(_ items: [FeedItem]) {
        var run: [MonitorEvent] = []
        var runPid: Int32 = -1
        func flush() {
            guard !run.isEmpty else { return }
            if let p = process(for: runPid) { apply(run, to: p) }
            run.removeAll(keepingCapacity: true)
        }
        for item in items {
            switch item {
            case .event(let pid, let e):
                if pid != runPid { flush(); runPid = pid }
                run.append(e)
            case .lost(let t, let count):
                flush()
                for p in byPid.values { apply([.lostEvents(time: t, count: count)], to: p) }
            case .discovered(let pid, let name):
                flush()
                _ = process(for: pid, name: name)
            case .cursor(let c):
                flush()
                saveCursor(c)
            }
        }
        flush()
    }

    private func apply(_ events: [MonitorEvent], to p: TrackedProcess) {
        do { try p.apply(events) } catch { warnings.append("\(error)") }
    }

    /// The live process with `pid`, created on first sight (with its journal).
    private func process(for pid: Int32, name givenName: String? = nil) -> TrackedProcess? {
        if let p = byPid[pid] {
            guard p.identity.startTicks != 0, !ProcFS.isRunning(p.identity) else { return p }
            retire(p)  // the pid was reused by a new process
        }
        let found = ProcFS.identity(of: pid)
        if found == nil, let gone = exitedProcesses.values.filter({ $0.identity.pid == pid }).max(by: { $0.identity.startTicks < $1.identity.startTicks }) {
            return gone  // events from before its exit, read late (after a daemon restart)
        }
        let identity = found?.0 ?? ProcessIdentity(pid: pid, startTicks: 0)
        // Start times are whole clock ticks (rounded down): compare at that granularity.
        let sawStart = found.map { $0.0.startTicks >= ProcFS.ticks(ofBootSeconds: trackingEpoch) } ?? false
        let header = JournalHeader(identity: identity, sawStart: sawStart, name: givenName ?? found?.name ?? "pid \(pid)")
        let path = stateDirectory + "/" + identity.fileStem + ".journal"
        do {
            let journal = try ProcessJournal(path: path, header: header, maxBytes: journalMaxBytes)
            let p = TrackedProcess(header: header, journal: journal, configuration: configuration)
            byPid[pid] = p
            return p
        } catch {
            warnings.append("\(error)")
            return nil
        }
    }

    /// Where a restarted feed resumes (saved after the batch before it was journaled).
    public var savedCursor: UInt64? {
        FileSystemCalls.readSmallText(stateDirectory + "/feed-cursor").flatMap { UInt64($0.filter { $0.isNumber }) }
    }

    private func saveCursor(_ c: UInt64) {
        do { try ProcessJournal.writeAtomically(stateDirectory + "/feed-cursor", Array("\(c)\n".utf8), sync: false) } catch {
            warnings.append("\(error)")
        }
    }

    /// Marks processes that are gone as exited.
    public func noticeExits() {
        for p in Array(byPid.values) where !Self.stillRunning(p.identity) { retire(p) }
    }

    private static func stillRunning(_ id: ProcessIdentity) -> Bool {
        if id.startTicks == 0 { return kill(id.pid, 0) == 0 || errno == EPERM }
        return ProcFS.isRunning(id)
    }

    private func retire(_ p: TrackedProcess) {
        p.markExited()
        byPid[p.identity.pid] = nil
        exitedProcesses[p.identity] = p
    }

    /// Live processes by pid, then exited ones.
    public var processes: [TrackedProcess] {
        byPid.values.sorted { $0.identity.pid < $1.identity.pid }
            + exitedProcesses.values.sorted { ($0.identity.pid, $0.identity.startTicks) < ($1.identity.pid, $1.identity.startTicks) }
    }

    /// The process a selector names: a live one before an exited one with the same pid or name.
    public func process(matching selector: ProcessSelector) -> TrackedProcess? {
        processes.first { p in
            switch selector {
            case .pid(let pid): p.identity.pid == pid
            case .name(let n): p.header.name == n
            }
        }
    }

    /// Registers a subscriber; returns the token for `unsubscribe`.
    public func subscribe(_ p: TrackedProcess, _ handler: @escaping (ProcessUpdate) -> Void) -> Int {
        let token = nextToken
        nextToken += 1
        p.addSubscriber(token, handler)
        return token
    }

    public func unsubscribe(_ p: TrackedProcess, token: Int) { p.removeSubscriber(token) }

    public func takeWarnings() -> [String] {
        defer { warnings.removeAll() }
        return warnings
    }

    static func journalNames(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".journal"), ProcessIdentity(fileStem: name.dropLast(8)) != nil { names.append(name) }
        }
        return names.sorted()
    }
}
