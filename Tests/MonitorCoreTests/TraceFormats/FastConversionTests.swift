import Testing
@testable import MonitorCore

/// The batch fast path (`fastConversion`, `TraceReader.readBatch`) against the per-event paths
/// it shortcuts (`referenceParsing`): the same events, counters and malformed samples for
/// random lines of every kind the fast path must take or decline.
struct FastConversionTests {
    /// One random line: mostly fast-path hypercall lines in several layouts, with the variations
    /// the fast path has to decline (other numbers, rejections, odd spacing, long fields, ...).
    static func line(_ g: inout SplitMix64, time: inout UInt64) -> String {
        if g.next() % 4 != 0 { time &+= g.next() % 30 }  // repeats now and then
        let r = g.next()
        let sec = time / 1_000_000, usec = time % 1_000_000
        var stamp = "\(sec)." + String(String(usec + 1_000_000).dropFirst())
        if r % 23 == 0 { stamp += "123" }  // nanoseconds
        if r % 97 == 0 { stamp = "1234567890123.456" }  // 16 digits: not exact in the fast path
        if r % 89 == 0 { stamp = "\(time)" }  // counter clock
        let gpaPages = g.next() % 0x40000
        var gpa = String((0x100000 + gpaPages) << 12, radix: 16)
        if r % 31 == 0 { gpa = String(g.next(), radix: 16) }  // unaligned, huge
        var count = String(1 + g.next() % 16, radix: 16)
        if r % 37 == 0 { count = "0" }
        if r % 41 == 0 { count = "fffffffffffffff0" }  // wraps or passes the address space
        var attrs = ["0", "10", "12", "30", "0"][Int(g.next() % 5)]
        if r % 43 == 0 { attrs = "8000000000000010" }
        let nr = r % 13 == 0 ? ["1", "b", "0c", "C", "d"][Int(g.next() % 5)] : "c"
        var fields = "nr 0x\(nr) a0 0x\(gpa) a1 0x\(count) a2 0x\(attrs) a3 0x0"
        if r % 29 == 0 { fields = fields.replacing(" a1 ", with: "  a1 ") }
        if r % 53 == 0 { fields += " junk" }
        if r % 59 == 0 { fields += "  \t" }
        if r % 61 == 0 { fields = fields.replacing("a3 0x0", with: "a3 0x10000000000000000") }
        if r % 67 == 0 { fields = fields.replacing("a0 0x", with: "a0 0xG") }
        if r % 71 == 0 { fields = fields.replacing("a0 0x", with: "a0 0X") }
        // The two-digit tail reader's edges: two digits last, three digits, a digit run cut short.
        if r % 73 == 0 { fields = fields.replacing("a3 0x0", with: "a3 0xab") }
        if r % 79 == 0 { fields = fields.replacing("a2 0x", with: "a2 0x1") }
        if r % 83 == 0 { fields = fields.replacing("a1 0x", with: "a1 0x1g") }
        if r % 47 == 0 { fields = fields.replacing("a2 0x", with: "a2 0xF") }
        let pid = 1000 + g.next() % 90000
        let cpu = g.next() % 64
        let cpuColumn = "[" + String(String(cpu + 1000).dropFirst()) + "]"
        let comm = ["qemu-system-x86", "CPU \(cpu)/KVM", "CPU 1/KV", "<...>", "a [b] c", "encmon-recording"][Int(g.next() % 6)]
        var text: String
        switch g.next() % 9 {
        case 0: text = "   \(comm)-\(pid) \(cpuColumn) d..1. \(stamp): kvm_hypercall: \(fields)"
        case 1: text = "\(comm)-\(pid)     \(cpuColumn) .... \(stamp): kvm_hypercall: \(fields)"
        case 2: text = "  \(comm)-\(pid)  (   \(pid / 2)) \(cpuColumn) d..1. \(stamp): kvm_hypercall: \(fields)"
        case 3: text = "  \(comm)-\(pid)  \(cpuColumn)  \(stamp): kvm_hypercall:        \(fields)"
        case 4: text = " \(comm)  \(pid) \(cpuColumn) \(stamp): kvm:kvm_hypercall: \(fields)"
        case 5: text = " \(comm) \(pid)/\(pid) \(cpuColumn) \(stamp):  kvm:kvm_hypercall:  \(fields)"
        case 6: text = "  \(comm)- \(cpuColumn) d..1. \(stamp): kvm_hypercall: \(fields)"  // no pid
        case 7: text = "  \(comm)-99999999999 \(cpuColumn) d..1. \(stamp): kvm_hypercall: \(fields)"  // pid too large
        default:
            switch g.next() % 6 {
            case 0: text = "CPU:\(cpu) [LOST \(g.next() % 100) EVENTS]"
            case 1: text = "# tracer: nop"
            case 2: text = ""
            case 3: text = "   \(comm)-\(pid) \(cpuColumn) d..1. \(stamp): kvm_exit: reason EPT_VIOLATION"
            case 4: text = "   \(comm)-\(pid) \(cpuColumn) d..1. \(stamp): kvm_xen_hypercall: nr 0x18 a0 0x1"
            default: text = "   \(comm)-\(pid) \(cpuColumn) d..1. \(stamp): kvm_hypercall: nr 0xc a0"
            }
        }
        if r % 19 == 0 { text += "\r" }
        return text
    }

    static func trace(seed: UInt64, lines: Int) -> [UInt8] {
        var g = SplitMix64(seed: seed)
        var time: UInt64 = 9051_204113
        var out: [UInt8] = []
        for _ in 0..<lines { out += Array((line(&g, time: &time) + "\n").utf8) }
        return out
    }

    static func events(_ bytes: [UInt8], chunkSize: Int, reference: Bool) throws -> ([MonitorEvent], TraceReader) {
        let reader = TraceReader(bytes: bytes, chunkSize: chunkSize)
        reader.referenceParsing = reference
        var events: [MonitorEvent] = []
        while let e = try reader.next() { events.append(e) }
        return (events, reader)
    }

    static func batches(_ bytes: [UInt8], chunkSize: Int, limit: Int, reference: Bool) throws -> ([MonitorEvent], TraceReader) {
        let reader = TraceReader(bytes: bytes, chunkSize: chunkSize)
        reader.referenceParsing = reference
        var events: [MonitorEvent] = []
        var batch = TraceEventBatch()
        while !reader.isFinished {
            batch.removeAll()
            try reader.readBatch(into: &batch, limit: limit)
            #expect(batch.count <= limit)
            events += batch.events
        }
        return (events, reader)
    }

    /// Conversions without pid and vCPU, as a batch carries them.
    static func withoutIDs(_ events: [MonitorEvent]) -> [MonitorEvent] { events.map(\.batched) }

    /// Reads `bytes` through the fast path and the per-event paths and expects the same events,
    /// counters and malformed samples; returns the reference events and reader.
    static func expectFastPathMatchesReference(_ bytes: [UInt8], chunkSize: Int) throws -> ([MonitorEvent], TraceReader) {
        let (reference, r0) = try events(bytes, chunkSize: chunkSize, reference: true)
        let (fast, r1) = try events(bytes, chunkSize: chunkSize, reference: false)
        #expect(fast == reference)
        #expect(r1.counters == r0.counters)
        #expect(r1.malformedSamples == r0.malformedSamples)
        return (reference, r0)
    }

    @Test(arguments: [(UInt64(1), 4096), (2, 300), (3, 1 << 20)])
    func fastPathReadsWhatThePerEventPathReads(seed: UInt64, chunkSize: Int) throws {
        let bytes = Self.trace(seed: seed, lines: 20_000)
        let (reference, r0) = try Self.expectFastPathMatchesReference(bytes, chunkSize: chunkSize)
        #expect(r0.counters.malformed > 0 && r0.counters.skipped > 0, "the trace exercises the slow paths")
        let conversions = reference.filter { if case .conversion = $0 { true } else { false } }.count
        #expect(conversions > reference.count / 2, "most lines take the fast path")

        for limit in [1, 7, 16_384] {
            let (batched, r2) = try Self.batches(bytes, chunkSize: chunkSize, limit: limit, reference: false)
            #expect(batched == Self.withoutIDs(reference))
            #expect(r2.counters == r0.counters)
            #expect(r2.malformedSamples == r0.malformedSamples)
        }
        let (batchedReference, _) = try Self.batches(bytes, chunkSize: chunkSize, limit: 1000, reference: true)
        #expect(batchedReference == Self.withoutIDs(reference))
    }

    /// A model fed the batches ends where one fed the reference events ends.
    @Test func monitorApplyOfBatchesMatchesApplyOfEvents() throws {
        let bytes = Self.trace(seed: 7, lines: 20_000)
        let (reference, _) = try Self.events(bytes, chunkSize: 1 << 16, reference: true)
        var a = Monitor()
        a.apply(reference)
        var b = Monitor()
        let reader = TraceReader(bytes: bytes, chunkSize: 1 << 16)
        var batch = TraceEventBatch()
        while !reader.isFinished {
            batch.removeAll()
            try reader.readBatch(into: &batch, limit: 333)
            b.apply(batch)
        }
        let status = SourceStatus(kind: .replay, name: "x")
        #expect(MonitorSummary.json(a.snapshot(), source: status).serialized()
                == MonitorSummary.json(b.snapshot(), source: status).serialized())
        #expect(a.totals.events == UInt64(reference.count))
    }

    @Test func decimalWordReadsUpToEightLeadingDigits() {
        var g = SplitMix64(seed: 11)
        for _ in 0..<2000 {
            let digits = Int(g.next() % 9)
            var bytes: [UInt8] = (0..<digits).map { _ in UInt8(ascii: "0") + UInt8(g.next() % 10) }
            let stop: [UInt8] = [UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: " "), 0xb0, 0x3a]
            while bytes.count < 8 { bytes.append(stop[Int(g.next() % UInt64(stop.count))]) }
            let w = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let limit = Int(g.next() % 10)
            let (v, c) = TraceLineParser.decimalWord(UInt64(littleEndian: w), limit: limit)
            let expectedCount = min(digits, limit)
            let expected = bytes.prefix(expectedCount).reduce(UInt64(0)) { $0 * 10 + UInt64($1 - 48) }
            #expect(c == expectedCount && v == expected, "\(bytes) limit \(limit)")
        }
    }
}
