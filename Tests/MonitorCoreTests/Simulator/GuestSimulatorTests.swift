import Testing
@testable import MonitorCore

@Suite("Simulator: determinism, layout, boot, churn")
struct GuestSimulatorTests {
    @Test func sameSeedSameEvents() throws {
        let c = smallConfiguration(.migrate, seed: 42)
        let a = try allEvents(c).events, b = try allEvents(c).events
        #expect(a.count > 1000)
        #expect(a == b)
    }

    @Test func chunkingDoesNotChangeEvents() throws {
        let c = smallConfiguration(.migrate, seed: 7)
        let whole = try allEvents(c).events
        var sim = try GuestSimulator(configuration: c)
        var chunked: [MonitorEvent] = []
        var until = 0.0, calls = 0
        // Odd steps and a small limit: calls end mid-action and mid-timestamp.
        while sim.events(until: until, limit: 37, into: &chunked) {
            until += 0.173
            calls += 1
        }
        #expect(calls > 50)
        #expect(chunked == whole)
        // Peeking computes ahead without changing what is delivered.
        var peeked = try GuestSimulator(configuration: c)
        var withPeeks: [MonitorEvent] = []
        while let t = peeked.peekNextTime() {
            _ = peeked.events(until: t, limit: 5, into: &withPeeks)
        }
        #expect(withPeeks == whole)
    }

    @Test func differentSeedDifferentEvents() throws {
        let a = try allEvents(smallConfiguration(.steady, seed: 1)).events
        let b = try allEvents(smallConfiguration(.steady, seed: 2)).events
        #expect(a != b)
    }

    @Test func eventsAreInTimeOrder() throws {
        let e = try allEvents(smallConfiguration(.migrate)).events
        #expect(zip(e, e.dropFirst()).allSatisfy { $0.time <= $1.time })
        #expect(e.first?.time == 0)
    }

    @Test(arguments: [UInt64(256) << 20, UInt64(2) << 30, UInt64(3) << 30, UInt64(4) << 30, UInt64(12) << 30])
    func layoutHasHoleAndAllRAM(memBytes: UInt64) throws {
        var c = SimulatorConfiguration(scenario: .boot)
        c.memBytes = memBytes
        c.bounceBufferBytes = 16 << 20
        let plan = GuestMemoryPlan(c)
        #expect(plan.isConsistent())
        let sim = try GuestSimulator(configuration: c)
        var s = sim
        var first: [MonitorEvent] = []
        _ = s.events(until: 0, limit: 1, into: &first)
        guard case .layout(let layout) = first.first else { Issue.record("first event is not the layout"); return }
        #expect(layout.ramPages * GuestPage.size == memBytes)
        // The PCI hole below 4 GiB is there, and no RAM overlaps it.
        let fourG: UInt64 = 1 << 20
        #expect(layout.ranges.contains { $0.kind == .mmio && $0.pages.upper <= fourG })
        #expect(layout.ranges.filter { $0.kind == .ram }.allSatisfy { $0.pages.upper <= 0xB0000 || $0.pages.lower >= fourG })
        #expect(zip(layout.ranges, layout.ranges.dropFirst()).allSatisfy { $0.pages.upper <= $1.pages.lower })
        if memBytes >= 3 << 30 { #expect(plan.lowPages == 2 << 18) }  // q35: 2 GiB low once RAM reaches 2.75 GiB
    }

    @Test func bootSharesStaticRanges() throws {
        let c = SimulatorConfiguration(scenario: .boot)
        let (events, sim) = try allEvents(c)
        var monitor = Monitor()
        monitor.apply(events)
        #expect((15...20).contains(monitor.regions.count), "regions: \(monitor.regions.count)")
        #expect(monitor.regions.count == sim.sharedRegionCount)
        #expect(!monitor.regions.isApproximate)
        // Legacy pattern: one ENCRYPTED call per E820 RAM entry before the kernel shares anything.
        let conv = conversions(events)
        let firstKernelShare = conv.firstIndex { $0.time >= 0.8 && $0.direction == .toShared }!
        let e820 = conv[..<firstKernelShare].filter { $0.direction == .toPrivate }
        #expect(e820.count == sim.plan.e820RAM.count)
        #expect(e820.map(\.pages) == sim.plan.e820RAM)
        // The bounce buffer is shared 2 MiB leaf by leaf.
        let bounce = sim.plan.staticShared.first { $0.name.hasPrefix("SWIOTLB") }!.pages
        #expect(conv.filter { bounce.contains($0.pages.lower) }.allSatisfy { $0.pages.count == 512 })
        #expect(monitor.regions.sharedPages >= bounce.count)
        #expect(markers(events).first == "boot: firmware shares its pages")
    }

    @Test func leafCallsFollowPageTableLeaves() {
        let calls = GuestMemoryPlan.leafCalls(PageRange(lower: 510, upper: 1026))
        #expect(calls.map(\.count) == [1, 1, 512, 1, 1])
        #expect(GuestMemoryPlan.leafCalls(PageRange(first: 1 << 18, count: 1 << 18)).count == 1)
    }

    @Test func steadyChurnFlips() throws {
        let (events, _) = try allEvents(smallConfiguration(.steady))
        var monitor = Monitor()
        monitor.apply(events)
        #expect(monitor.churn.totalFlips > 100)
        // Every toPrivate of churn undoes a toShared with the same first page and size, within seconds.
        var open: [UInt64: Conversion] = [:]
        var undone = 0
        for c in conversions(events) where c.time >= GuestSimulator.bootSeconds {
            if c.direction == .toShared { open[c.pages.lower] = c; continue }
            guard let s = open.removeValue(forKey: c.pages.lower) else { Issue.record("unmatched \(c)"); continue }
            #expect(s.pages == c.pages)
            #expect(c.time - s.time <= 5)
            undone += 1
        }
        #expect(undone > 100)
        #expect(conversions(events).contains { $0.pages.count == 512 && $0.time >= GuestSimulator.bootSeconds })
    }

    @Test func hostileStaysWithinTheMonitorBound() throws {
        var c = smallConfiguration(.hostile)
        c.steadySeconds = 0.5
        let (events, sim) = try allEvents(c)
        var mc = MonitorConfiguration()
        mc.regionCap = 2_000
        var monitor = Monitor(configuration: mc)
        monitor.apply(events)
        #expect(sim.sharedRegionCount > 10_000)
        #expect(monitor.regions.count <= mc.regionCap)
        #expect(monitor.regions.isApproximate)
        #expect(markers(events).contains { $0.hasPrefix("hostile: done") })
    }

    @Test func defaultHostileExceedsDefaultCap() {
        // 8 GiB, every other page: 2^20 regions, above the Monitor's 1 M cap.
        let c = SimulatorConfiguration(scenario: .hostile)
        #expect(GuestMemoryPlan(c).ramPages / c.hostileStridePages > UInt64(SharedRegionMap.defaultRegionCap))
    }
}
