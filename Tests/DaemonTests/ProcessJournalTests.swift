import SystemLibc
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import EncmonDaemon
@testable import MonitorCore
import Testing

@Suite struct ProcessJournalTests {
    final class Directory {
        let path = "/tmp/encmon-journal-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        init() { mkdir(path, 0o700) }
        deinit {
            for name in ["1-2.journal", "1-2.state", "1-2.journal.tmp", "1-2.state.tmp"] { unlink(path + "/" + name) }
            rmdir(path)
        }
    }

    static let header = JournalHeader(identity: ProcessIdentity(pid: 1, startTicks: 2), sawStart: true, name: "guest a,b")

    /// Random conversions and losses for pid 1.
    static func events(_ n: Int, seed: UInt64, from t0: Double = 1) -> [MonitorEvent] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { i in
            let t = t0 + Double(i) * 0.01
            if rng.below(50) == 0 { return .lostEvents(time: t, count: rng.below(2) == 0 ? nil : 1 + rng.below(5)) }
            return .conversion(Conversion(time: t, pages: PageRange(first: 0x100 + rng.below(4096), count: 1 + rng.below(16)),
                                          direction: rng.below(3) == 0 ? .toPrivate : .toShared, pid: 1, path: .hypercall))
        }
    }

    static func summary(_ m: Monitor) -> String {
        MonitorSummary.json(m.snapshot(), source: SourceStatus(kind: .daemon, name: "x")).serialized()
    }

    @Test func headerRoundTripsThroughTheComment() throws {
        let h = JournalHeader(identity: ProcessIdentity(pid: 77, startTicks: 123_456), sawStart: false, name: "vm with spaces % and ,", generation: 9)
        #expect(JournalHeader(commentLine: ("# " + h.commentText)[...]) == h)
        #expect(JournalHeader(commentLine: "# encmon-daemon pid=0 start-ticks=1 saw-start=1 name=x") == nil)
        #expect(JournalHeader(commentLine: "# something else") == nil)
    }

    /// Appending, compacting at random sizes and reading back always rebuilds the model that
    /// applied every event directly (the reference).
    @Test(arguments: [UInt64(4096), 20_000, 1 << 30])
    func restoreEqualsTheDirectModel(maxBytes: UInt64) throws {
        let dir = Directory()
        let path = dir.path + "/1-2.journal"
        let all = Self.events(3000, seed: maxBytes)
        var reference = Monitor()
        let journal = try ProcessJournal(path: path, header: Self.header, maxBytes: maxBytes)
        var p = TrackedProcess(header: Self.header, journal: journal, configuration: MonitorConfiguration())
        var rng = SplitMix64(seed: 5)
        var i = 0
        while i < all.count {
            let n = min(all.count - i, 1 + Int(rng.below(200)))
            let batch = Array(all[i..<(i + n)])
            try p.apply(batch)
            reference.apply(batch)
            i += n
        }
        #expect(maxBytes > 1 << 20 || journal.compactions > 0)
        journal.close()
        let contents = try ProcessJournal.contents(of: path)
        #expect(contents.warnings.isEmpty)
        #expect(contents.header.name == "guest a,b")
        p = TrackedProcess(header: contents.header, journal: journal, configuration: MonitorConfiguration(),
                           restoring: contents.state, events: contents.events)
        #expect(Self.summary(p.monitor) == Self.summary(reference))
        let firstLoss = all.first { if case .lostEvents = $0 { true } else { false } }?.time
        #expect(p.incompleteSince == firstLoss)
    }

    @Test func tornLastRecordIsCutAndAppendingGoesOn() throws {
        let dir = Directory()
        let path = dir.path + "/1-2.journal"
        let first = Self.events(10, seed: 1)
        do {
            let j = try ProcessJournal(path: path, header: Self.header, maxBytes: 1 << 30)
            try j.append(first)
            j.close()
        }
        let fd = open(path, O_WRONLY | O_APPEND)
        _ = "conversion t=9 dir=sha".withCString { write(fd, $0, strlen($0)) }
        close(fd)
        #expect(try ProcessJournal.contents(of: path).warnings.count == 1)
        let j = try ProcessJournal(path: path, header: Self.header, maxBytes: 1 << 30)
        let more = Self.events(5, seed: 2, from: 50)
        try j.append(more)
        j.close()
        let contents = try ProcessJournal.contents(of: path)
        #expect(contents.warnings.isEmpty)
        #expect(contents.events == first + more)
    }

    /// A crash after the state was written but before the journal restarted: the old journal's
    /// events are already in the state and must not be applied twice.
    @Test func interruptedCompactionIgnoresTheStaleJournal() throws {
        let dir = Directory()
        let path = dir.path + "/1-2.journal"
        let events = Self.events(100, seed: 3)
        let j = try ProcessJournal(path: path, header: Self.header, maxBytes: 1 << 30)
        try j.append(events)
        var m = Monitor()
        m.apply(events)
        // Only the first step of compact(): the state of generation 1.
        let state = JournalState(generation: 1, incompleteSince: nil, monitor: m)
        try ProcessJournal.writeAtomically(j.statePath, Array(JSONEncoder().encode(state)))
        j.close()
        let contents = try ProcessJournal.contents(of: path)
        #expect(contents.events.isEmpty)
        #expect(contents.state?.generation == 1)
        #expect(contents.warnings.contains { $0.contains("interrupted compaction") })
    }

    @Test func notAJournalIsRefusedByName() throws {
        let dir = Directory()
        let path = dir.path + "/1-2.journal"
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        _ = "hello\n".withCString { write(fd, $0, strlen($0)) }
        close(fd)
        #expect(throws: JournalError.self) { try ProcessJournal.contents(of: path) }
        #expect(throws: JournalError.self) { try ProcessJournal(path: path, header: Self.header, maxBytes: 4096) }
    }
}
