import Testing
@testable import MonitorCore

@Suite("Simulator: pre-copy migration")
struct MigrationSimulatorTests {
    /// Slow link so that the small guest needs several passes.
    static func converging() -> SimulatorConfiguration {
        var c = smallConfiguration(.migrate, seed: 3)
        c.linkBandwidthBytesPerSecond = 64 * 1_048_576
        c.dirtyPagesPerSecond = 2_000
        c.largeBufferFlipsPerSecond = 2
        return c
    }

    @Test func convergesWithConsistentPasses() throws {
        let c = Self.converging()
        let (events, sim) = try allEvents(c)
        let records = passRecords(events)
        #expect(records == sim.migrationPasses)
        #expect(records.count >= 3)
        #expect(records.map(\.pass) == Array(1...records.count))
        #expect(records.last!.isStopAndCopy)
        #expect(records.dropLast().allSatisfy { !$0.isStopAndCopy })

        // Pass 1 sends all RAM; nothing to resync yet.
        #expect(records[0].pagesSent == sim.plan.ramPages)
        #expect(records[0].pagesChangedState == 0 && records[0].pagesResentForEncryption == 0)
        for (prev, r) in zip(records, records.dropFirst()) {
            #expect(r.pagesSent == prev.pagesDirtied + r.pagesResentForEncryption)
            #expect(r.startTime == prev.endTime)
        }
        for r in records {
            #expect(r.pagesResentForEncryption <= r.pagesChangedState)
            #expect(r.sharedPagesSent <= r.pagesSent)
            #expect(r.resyncBitmapBytes == (sim.plan.spanPages + 7) / 8)
            #expect(r.resyncRangeListBytes % 16 == 0 && r.resyncRangeListBytes > 0)
            let shared = Double(r.sharedPagesSent * 4096), priv = Double((r.pagesSent - r.sharedPagesSent) * 4096)
            let expected = shared / c.linkBandwidthBytesPerSecond + priv / c.encryptedPathBytesPerSecond
            #expect(abs((r.endTime - r.startTime) - expected) < 1e-6)
        }
        #expect(records.last!.pagesDirtied == 0)
        #expect(records.contains { $0.pagesChangedState > 0 })

        let last = progressReports(events).last!
        #expect(last.status == .completed)
        #expect(last.downtimeSeconds! <= c.downtimeLimitSeconds)
        #expect(abs(last.downtimeSeconds! - (records.last!.endTime - records.last!.startTime)) < 1e-9)
        #expect(last.ramTransferredBytes == records.reduce(0) { $0 + $1.pagesSent } * 4096)
        #expect(markers(events).contains { $0.hasPrefix("migration: completed") })
        let passes = progressReports(events).map(\.pass)
        #expect(zip(passes, passes.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test func monitorAgreesOnStateChanges() throws {
        let (events, _) = try allEvents(Self.converging())
        var monitor = Monitor()
        monitor.apply(events)
        let records = passRecords(events)
        let summaries = monitor.migration.passes
        #expect(summaries.count == records.count)
        for (s, r) in zip(summaries, records) {
            #expect(s.pass == r.pass)
            #expect(s.record == r)
            #expect(s.observedStateChanges == r.pagesChangedState, "pass \(r.pass)")
        }
    }

    /// The default tour shows every act (boot, churn, the migration to its end, churn on the
    /// destination) within 20 s of simulated time, with its default 4 GiB guest.
    @Test func defaultTourShowsEveryActWithinTwentySeconds() throws {
        var sim = try GuestSimulator(configuration: SimulatorConfiguration())
        var out: [MonitorEvent] = []
        _ = sim.events(until: 20, into: &out)
        let texts = markers(out)
        for act in ["boot:", "steady: DMA churn", "migration: pre-copy", "migration: completed", "steady: guest running on the destination"] {
            #expect(texts.contains { $0.hasPrefix(act) }, "no '\(act)' marker by t=20: \(texts)")
        }
        // The longer scenarios stay as they were: the migrate scenario migrates after 14 s.
        #expect(SimulatorConfiguration(scenario: .migrate).steadySeconds == 10)
    }

    /// A guest that dirties RAM as fast as the link sends it: the passes stop shrinking, and the
    /// migration fails after a few of them (not after `maxPasses`), saying why.
    @Test func stopsWhenPassesStopShrinking() throws {
        var c = smallConfiguration(.migrate, seed: 2)
        c.linkBandwidthBytesPerSecond = 16 * 1_048_576
        c.dirtyPagesPerSecond = 1_000_000
        c.churnConversionsPerSecond = 20
        let (events, _) = try allEvents(c)
        let records = passRecords(events)
        let last = try #require(progressReports(events).last)
        #expect(last.status == .failed)
        #expect(records.count < c.maxPasses && records.count >= 1 + GuestSimulator.stalledPassLimit)
        #expect(last.note?.contains("does not converge") == true)
        #expect(markers(events).last == "end of migrate scenario")
    }

    @Test func failsWithANoteWhenDirtyRateExceedsBandwidth() throws {
        var c = smallConfiguration(.migrate, seed: 5)
        c.linkBandwidthBytesPerSecond = 32 * 1_048_576
        c.dirtyPagesPerSecond = 10_000  // 39 MiB/s, above the 12.8 MiB/s encrypted path
        c.maxPasses = 3
        c.churnConversionsPerSecond = 50
        let (events, _) = try allEvents(c)
        let records = passRecords(events)
        #expect(records.count == 3)
        #expect(!records.contains { $0.isStopAndCopy })
        let last = progressReports(events).last!
        #expect(last.status == .failed)
        #expect(last.note?.contains("does not converge after 3 passes") == true)
        #expect(last.note?.contains("the guest dirties") == true)
        #expect(markers(events).contains { $0.hasPrefix("migration: failed") })
        #expect(markers(events).last == "end of migrate scenario")
    }
}

