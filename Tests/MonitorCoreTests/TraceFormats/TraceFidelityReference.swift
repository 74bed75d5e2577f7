import Foundation
import Testing
@testable import MonitorCore

/// A page-set reference for the fidelity tests: the calls a trace should contain, run through
/// KVM's rule written out by hand (arch/x86/kvm/x86.c `____kvm_emulate_hypercall`), with the
/// shared set kept as a plain `Set` of page numbers.
struct FidelityReference: Equatable, CustomStringConvertible {
    struct Call { var nr: UInt64; var a0: UInt64; var a1: UInt64; var a2: UInt64 }

    var conversions = 0, toShared = 0, toPrivate = 0, rejected = 0, otherHypercalls = 0
    var reservedAttributeBits = 0, beyondAddressSpace = 0
    var lost: UInt64 = 0
    var lossWithoutCount = 0
    var shared = Set<UInt64>()
    /// Pages named by applied conversions (bytes = pages x 4096), clipped to the address space.
    var convertedPages: UInt64 = 0

    var description: String {
        "conversions \(conversions) (shared \(toShared), private \(toPrivate)), rejected \(rejected), other \(otherHypercalls), "
            + "reserved \(reservedAttributeBits), beyond \(beyondAddressSpace), lost \(lost)+\(lossWithoutCount)?, "
            + "converted pages \(convertedPages), shared pages \(shared.count)"
    }

    mutating func apply(_ c: Call) {
        guard c.nr == 12 else { otherHypercalls += 1; return }
        let gfn = c.a0 >> 12
        if c.a0 % 4096 != 0 || c.a1 == 0 || gfn &+ c.a1 <= gfn { rejected += 1; return }
        conversions += 1
        if c.a2 >> 5 != 0 { reservedAttributeBits += 1 }
        if gfn + c.a1 > 1 << 52 { beyondAddressSpace += 1 }
        convertedPages += min(c.a1, (1 << 52) - gfn)
        let toPriv = c.a2 & 0x10 != 0
        if toPriv { toPrivate += 1 } else { toShared += 1 }
        for page in gfn..<min(gfn + c.a1, 1 << 52) {
            if toPriv { shared.remove(page) } else { shared.insert(page) }
        }
    }

    /// What encmon made of the same input, in the same terms.
    static func observed(_ events: [MonitorEvent]) -> (FidelityReference, Monitor) {
        var m = Monitor()
        m.apply(events)
        var r = FidelityReference()
        let t = m.totals
        r.conversions = Int(t.conversions); r.toShared = Int(t.toShared); r.toPrivate = Int(t.toPrivate)
        r.rejected = Int(t.rejected); r.otherHypercalls = Int(t.otherHypercalls)
        r.reservedAttributeBits = Int(t.reservedAttributeBitCalls); r.beyondAddressSpace = Int(t.beyondAddressSpaceCalls)
        r.lost = t.lostEvents; r.lossWithoutCount = Int(t.lossReportsWithoutCount)
        r.convertedPages = t.pagesToShared + t.pagesToPrivate
        for region in m.regions.allRegions { for p in region.pages.lower..<region.pages.upper { r.shared.insert(p) } }
        return (r, m)
    }

    /// The reference's shared set as maximal runs, to compare with the map's regions.
    var runs: [PageRange] {
        var out: [PageRange] = []
        for p in shared.sorted() {
            if let last = out.last, last.upper == p { out[out.count - 1] = PageRange(lower: last.lower, upper: p + 1) } else {
                out.append(PageRange(lower: p, upper: p + 1))
            }
        }
        return out
    }

    /// The calls of `standin-guest.c` (Fixtures), in the order the program makes them.
    static let standInGuestCalls: [Call] = [
        Call(nr: 12, a0: 0x1f01_8000, a1: 4, a2: 0x0),
        Call(nr: 12, a0: 0x1f01_c000, a1: 2, a2: 0x0),
        Call(nr: 12, a0: 0x1f01_9000, a1: 1, a2: 0x10),
        Call(nr: 12, a0: 0x8000_0000, a1: 512, a2: 0x1),          // second thread
        Call(nr: 12, a0: 0x9000_0000, a1: 3, a2: 0x30),           // second thread: reserved bit 5
        Call(nr: 12, a0: 0x1f01_8001, a1: 1, a2: 0x0),            // unaligned: rejected
        Call(nr: 12, a0: 0x1f01_8000, a1: 0, a2: 0x0),            // zero pages: rejected
        Call(nr: 12, a0: 0xffff_ffff_ffff_f000, a1: 2, a2: 0x0),  // past 2^64 bytes, no u64 wrap: applied
        Call(nr: 12, a0: 0x1f03_0000, a1: 8, a2: 0xffff_ffff_ffff_ffe0),
        Call(nr: 9, a0: 0, a1: 0, a2: 0),
    ]

    static func of(_ calls: [Call]) -> FidelityReference {
        var r = FidelityReference()
        for c in calls { r.apply(c) }
        return r
    }

    /// Reads a fixture and checks it against `expected`: figures, page set, regions, nothing malformed.
    static func check(fixture: String, expected: FidelityReference, sourceLocation: SourceLocation = #_sourceLocation) throws -> TraceReader {
        let (events, reader) = try TraceFormatsTestSupport.readFixture(fixture)
        let (seen, m) = observed(events)
        #expect(reader.counters.malformed == 0, "\(fixture): \(reader.malformedSamples)", sourceLocation: sourceLocation)
        #expect(seen == expected, "\(fixture)", sourceLocation: sourceLocation)
        #expect(m.regions.allRegions.map(\.pages) == expected.runs, "\(fixture) regions", sourceLocation: sourceLocation)
        return reader
    }

}

