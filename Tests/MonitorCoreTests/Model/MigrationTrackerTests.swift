import Testing
@testable import MonitorCore

private func progress(_ t: Double, _ status: MigrationStatus, pass: Int) -> MonitorEvent {
    .migrationProgress(MigrationProgress(time: t, status: status, pass: pass, ramTransferredBytes: 0, ramRemainingBytes: 0,
                                         ramTotalBytes: 1 << 30, dirtyPagesPerSecond: 0, bandwidthBytesPerSecond: 1e9))
}

private func toShared(_ t: Double, _ first: UInt64, _ n: UInt64) -> MonitorEvent {
    .conversion(Conversion(time: t, pages: PageRange(first: first, count: n), direction: .toShared, path: .hypercall))
}

@Suite struct MigrationTrackerTests {
    @Test func aSecondMigrationStartsFromPassOne() {
        var m = Monitor()
        m.apply(progress(1, .setup, pass: 0))
        for p in 1...3 { m.apply(progress(Double(1 + p), .active, pass: p)) }
        m.apply(progress(5, .completed, pass: 4))
        #expect(m.migration.passes.map(\.pass) == [1, 2, 3, 4])
        #expect(m.migration.migrationsSeen == 1)
        m.apply(toShared(6, 0, 10))
        m.apply(progress(7, .setup, pass: 0))
        m.apply(progress(8, .active, pass: 1))
        m.apply(toShared(8.5, 20, 5))
        m.apply(progress(9, .active, pass: 2))
        #expect(m.migration.migrationsSeen == 2)
        #expect(m.migration.passes.map(\.pass) == [1, 2])
        // The first sync of the new migration compares with nothing; the second with it.
        #expect(m.migration.passes.map(\.observedStateChanges) == [0, 5])
        #expect(m.migration.passes.map(\.conversionsSincePreviousSync) == [0, 1])
    }

    @Test func aPassCounterThatGoesBackIsANewMigrationEvenWithoutAFinalStatus() {
        var m = Monitor()
        for p in 1...5 { m.apply(progress(Double(p), .active, pass: p)) }
        m.apply(progress(6, .active, pass: 1))
        #expect(m.migration.migrationsSeen == 2)
        #expect(m.migration.passes.map(\.pass) == [1])
    }

    @Test func finalAndIdleStatusesKeepTheHistory() {
        var m = Monitor()
        for p in 1...3 { m.apply(progress(Double(p), .active, pass: p)) }
        for s in [MigrationStatus.completed, .none, .completed] { m.apply(progress(4, s, pass: 3)) }
        #expect(m.migration.passes.map(\.pass) == [1, 2, 3])
        #expect(m.migration.migrationsSeen == 1)
    }

    @Test func everyQEMUStatusIsKnownAndNamedAsQEMUNamesIt() {
        let qemu = ["none", "setup", "cancelling", "cancelled", "active", "postcopy-active", "postcopy-paused",
                    "postcopy-recover-setup", "postcopy-recover", "completed", "failed", "colo", "pre-switchover",
                    "device", "wait-unplug"]
        for name in qemu {
            let s = MigrationStatus(rawValue: name)
            #expect(s?.rawValue == name, "\(name)")
        }
        #expect(MigrationStatus.allCases.filter(\.isFinal) == [.completed, .failed, .cancelled])
    }

    @Test func conversionsAreCountedPerPass() {
        var m = Monitor()
        m.apply(progress(0, .active, pass: 1))
        for i in 0..<7 { m.apply(toShared(1, UInt64(i) * 10, 2)) }
        m.apply(progress(2, .active, pass: 2))
        for i in 0..<3 { m.apply(toShared(3, 1000 + UInt64(i) * 10, 1)) }
        m.apply(progress(4, .active, pass: 3))
        #expect(m.migration.passes.map(\.conversionsSincePreviousSync) == [0, 7, 3])
        #expect(m.migration.passes.map(\.observedStateChanges) == [0, 14, 3])
    }

    @Test func theHistoryIsBounded() {
        var m = Monitor()
        let n = MigrationTracker.maxPassHistory * 3
        for p in 1...n { m.apply(progress(Double(p), .active, pass: p)) }
        #expect(m.migration.passes.count == MigrationTracker.maxPassHistory)
        #expect(m.migration.passes.first?.pass == n - MigrationTracker.maxPassHistory + 1)
        #expect(m.migration.passes.last?.pass == n)
        #expect(m.migration.droppedPassSummaries == UInt64(n - MigrationTracker.maxPassHistory))
    }

    /// Random status and pass sequences (extreme pass numbers included) against a naive
    /// reference: which passes the current migration has synced, and how many migrations began.
    @Test func randomReportsMatchAReferenceModel() {
        var rng = SplitMix64(seed: 11)
        let statuses = MigrationStatus.allCases
        for _ in 0..<300 {
            var m = Monitor()
            var synced: [Int] = []
            var migrations = 0
            var previous: (status: MigrationStatus, pass: Int)?
            for step in 0..<Int(rng.next() % 60) {
                let status = statuses[Int(rng.next() % UInt64(statuses.count))]
                let pass: Int = switch rng.next() % 8 {
                case 0: Int.max
                case 1: Int.min
                case 2: 0
                default: Int(rng.next() % 12)
                }
                m.apply(progress(Double(step), status, pass: pass))
                // Reference.
                if !status.isIdle {
                    let starts = previous.map { $0.status.isIdle || pass < $0.pass } ?? synced.isEmpty
                    if starts { synced = []; migrations += 1 }
                }
                if pass > (synced.last ?? 0) { synced.append(pass) }
                previous = (status, pass)
                #expect(m.migration.passes.map(\.pass) == Array(synced.suffix(MigrationTracker.maxPassHistory)))
                #expect(m.migration.migrationsSeen == migrations)
            }
        }
    }
}
