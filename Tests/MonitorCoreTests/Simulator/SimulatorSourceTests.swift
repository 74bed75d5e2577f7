import Testing
@testable import MonitorCore

@Suite("Simulator: configuration and source")
struct SimulatorSourceTests {
    @Test func validationNamesTheBadValue() {
        var c = SimulatorConfiguration()
        c.memBytes = (4 << 30) + 100
        #expect(throws: SimulatorConfigurationError.memoryNotPageMultiple((4 << 30) + 100)) { try c.validate() }
        c.memBytes = 64 << 20
        #expect(throws: SimulatorConfigurationError.memoryTooSmall(64 << 20, minimum: SimulatorConfiguration.minimumMemBytes)) { try c.validate() }
        c = SimulatorConfiguration()
        c.bounceBufferBytes = 2 << 30
        #expect(throws: SimulatorConfigurationError.bounceBufferInvalid(2 << 30, memBytes: 4 << 30)) { try c.validate() }
        c = SimulatorConfiguration()
        c.encryptedPathFraction = 0
        #expect(throws: SimulatorConfigurationError.encryptedPathFractionInvalid(0)) { try c.validate() }
        c = SimulatorConfiguration()
        c.dirtyPagesPerSecond = -1
        #expect(throws: SimulatorConfigurationError.rateInvalid(name: "dirty rate (pages/s)", value: -1)) { try c.validate() }
        #expect(SimulatorConfigurationError.memoryNotPageMultiple(4097).description.contains("4097"))
        #expect(throws: SimulatorConfigurationError.self) { try SimulatorSource(configuration: c) }
        #expect(throws: Never.self) { try SimulatorConfiguration().validate() }
    }

    @Test func sourceReportsNamePhaseAndEnd() throws {
        let source = try SimulatorSource(configuration: SimulatorConfiguration(scenario: .boot, seed: 7))
        #expect(source.status.name == "boot (seed 7, 4 GiB)")
        #expect(source.status.kind == .demo)
        #expect(try source.peekNextTime() == 0)
        var events: [MonitorEvent] = []
        #expect(try source.poll(until: 1.0, limit: 10_000, into: &events))
        #expect(source.status.position == "boot: kernel marks RAM encrypted per E820 entry, then shares")
        #expect(!source.status.finished)
        while try source.poll(until: nil, limit: 100, into: &events) {}
        #expect(source.status.finished)
        #expect(source.status.lines == UInt64(events.count))
        #expect(source.status.position == "end of boot scenario")
        #expect(try source.peekNextTime() == nil)
        #expect(try !source.poll(until: nil, limit: 100, into: &events))
    }

    @Test func randomIsDeterministicAndUniformEnough() {
        var a = SimulatorRandom(seed: 9), b = SimulatorRandom(seed: 9)
        #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
        var r = SimulatorRandom(seed: 1)
        let mean = (0..<10_000).reduce(0.0) { s, _ in s + r.exponential(mean: 2) } / 10_000
        #expect(abs(mean - 2) < 0.1)
        #expect((0..<1000).allSatisfy { _ in (0.001...2).contains(r.logUniform(0.001, 2)) })
        #expect(abs(ln(10) - 2.302585092994046) < 1e-12)
        #expect(abs(pow2(10.5) - 1448.1546878700492) < 1e-9)
    }

    @Test func pageBitmapMatchesNaiveSet() {
        var r = SimulatorRandom(seed: 4)
        var bm = PageBitmap(pageCount: 3000)
        var naive = Set<UInt64>()
        for _ in 0..<500 {
            let lo = r.below(3000), n = r.below(200) + 1
            let range = PageRange(lower: lo, upper: Swift.min(3000, lo + n))
            let on = r.below(2) == 0
            let before = naive.count
            for p in range.lower..<range.upper { if on { naive.insert(p) } else { naive.remove(p) } }
            #expect(bm.assign(range, to: on) == UInt64(abs(naive.count - before)))
        }
        #expect(bm.count == UInt64(naive.count))
        let runs = bm.ranges
        #expect(runs.count == bm.runCount)
        #expect(runs.reduce(0) { $0 + $1.count } == bm.count)
        #expect(runs.allSatisfy { r in (r.lower..<r.upper).allSatisfy { naive.contains($0) } })
    }
}
