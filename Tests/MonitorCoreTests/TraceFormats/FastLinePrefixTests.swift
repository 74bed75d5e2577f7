import Testing
@testable import MonitorCore

/// The fast path's kept line prefixes (`FastLinePrefixes`): lines that repeat a few prefixes, as a
/// real trace does, followed by what must still be read or declined after a prefix hit (a space,
/// a letter or a shorter seconds field where the timestamp was, other fields), against the
/// per-event paths; also prefixes that share a slot, lines near the buffer's end (small chunks)
/// and prefixes too long to keep.
struct FastLinePrefixTests {
    /// Prefixes in the layouts the fast path reads; the last is longer than the table keeps.
    static let prefixes = [
        "   qemu-system-x86-40519 [012] d..1. ",
        "   qemu-system-x86-40520 [015] d..1. ",
        "   qemu-system-x86-40520 [015] d..2. ",
        "   qemu-system-x86-40520 [015] d..1.  ",
        "CPU 0/KVM-1234     [001] .... ",
        "  CPU 3/KVM-77  (   70) [003] d..1. ",
        " qemu-system-x86  40515 [000] ",
        "   qemu-system-x86-40521 [013] d..1. ",
        "  a-very-long-thread-name-of-a-vmm-process-here-9 [001] d..1. ",
    ]

    static func trace(seed: UInt64, lines: Int) -> [UInt8] {
        var g = SplitMix64(seed: seed)
        var micros: UInt64 = 9051_204113
        var out: [UInt8] = []
        for _ in 0..<lines {
            micros &+= g.next() % 40
            let prefix = prefixes[Int(g.next() % UInt64(prefixes.count))]
            let sec = micros / 1_000_000, usec = String(String(micros % 1_000_000 + 1_000_000).dropFirst())
            var stamp = "\(sec).\(usec)"
            let r = g.next() % 50
            if r == 0 { stamp = " " + stamp }  // a space where the timestamp started
            if r == 1 { stamp = "x" + stamp }  // flags-like text there
            if r == 2 { stamp = "\(sec % 100).\(usec)" }  // fewer seconds digits
            if r == 3 { stamp = "\(micros)" }  // a counter clock
            let gpa = String((0x100000 + g.next() % 4096 * 0x40) << 12, radix: 16)
            let pages = String(1 + g.next() % 16, radix: 16)
            let attrs = g.next() % 2 == 0 ? "0" : "10"
            var text = prefix + stamp + ": kvm_hypercall: nr 0xc a0 0x\(gpa) a1 0x\(pages) a2 0x\(attrs) a3 0x0"
            if r == 4 { text = prefix + stamp + ": kvm_hypercall: nr 0xb a0 0x1 a1 0x0 a2 0x0 a3 0x0" }
            if r == 5 { text = prefix + stamp + ": kvm_exit: reason EPT_VIOLATION" }
            if r == 6 { text = String(prefix.prefix(12)) }  // a line cut inside a prefix
            out += Array((text + "\n").utf8)
        }
        return out
    }

    @Test(arguments: [(UInt64(21), 4096), (22, 211), (23, 1 << 20)])
    func prefixHitsReadWhatThePerEventPathReads(seed: UInt64, chunkSize: Int) throws {
        let bytes = Self.trace(seed: seed, lines: 12_000)
        let (reference, r0) = try FastConversionTests.expectFastPathMatchesReference(bytes, chunkSize: chunkSize)
        for limit in [1, 16_384] {
            let (batched, r2) = try FastConversionTests.batches(bytes, chunkSize: chunkSize, limit: limit, reference: false)
            #expect(batched == FastConversionTests.withoutIDs(reference))
            #expect(r2.counters == r0.counters)
        }
    }

    /// The table serves a repeated prefix (the tests above then run through hits), never one
    /// longer than it keeps, and never a line that only starts like a kept prefix.
    @Test func repeatedPrefixesHitAndOthersMiss() {
        var parser = TraceLineParser()
        func line(_ text: String) -> [UInt8] { Array(text.utf8) + [UInt8](repeating: 0x20, count: 64) }
        func hit(_ bytes: [UInt8], _ count: Int) -> (open: Int, timestampStart: Int)? {
            bytes.withUnsafeBufferPointer { b in
                parser.fastPrefixes.match(TraceLineBytes(base: b.baseAddress!, count: count, readable: b.count))
            }
        }
        let a = "   qemu-system-x86-40519 [012] d..1. 9051.204132: kvm_hypercall: nr 0xc a0 0x1000 a1 0x1 a2 0x0 a3 0x0"
        let first = line(a)
        #expect(hit(first, a.utf8.count) == nil)
        let parsed = first.withUnsafeBufferPointer { b in
            parser.fastConversion(TraceLineBytes(base: b.baseAddress!, count: a.utf8.count, readable: b.count), ids: false)
        }
        #expect(parsed != nil)
        let again = line(a.replacing("9051.204132", with: "9052.000001"))
        let h = hit(again, a.utf8.count)
        #expect(h?.timestampStart == 37 && h?.open == 25)
        // One byte of the prefix changed (the flags), or the line ends inside it: no hit.
        #expect(hit(line(a.replacing("d..1.", with: "d..2.")), a.utf8.count) == nil)
        #expect(hit(again, 30) == nil)
        // A prefix longer than the table keeps is never kept.
        let long = "  a-very-long-thread-name-of-a-vmm-process-here-9 [001] d..1. 1.000000: kvm_hypercall: nr 0xc a0 0x1000 a1 0x1 a2 0x0 a3 0x0"
        let longBytes = line(long)
        for _ in 0..<2 {
            let p = longBytes.withUnsafeBufferPointer { b in
                parser.fastConversion(TraceLineBytes(base: b.baseAddress!, count: long.utf8.count, readable: b.count), ids: false)
            }
            #expect(p != nil)
        }
        #expect(hit(longBytes, long.utf8.count) == nil)
    }
}
