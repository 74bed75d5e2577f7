import Testing
@testable import MonitorCore

@Suite struct PageRangeTests {
    @Test func clampsAtTheEndOfTheAddressSpace() {
        let r = PageRange(first: PageRange.maxPage - 2, count: 10)
        #expect(r.upper == PageRange.maxPage)
        #expect(r.count == 2)
    }

    /// The end of the 64-bit space is 2^64: it must print as such, not wrap to `0x0`.
    @Test func describesTheEndOfTheAddressSpaceWithoutWrapping() {
        let top = PageRange(lower: PageRange.maxPage - 1, upper: PageRange.maxPage)
        #expect(top.description == "0xfffffffffffff000-0x10000000000000000")
        #expect(PageRange(first: 0x1f018, count: 2).description == "0x1f018000-0x1f01a000")
        #expect(Hex.pageAddress(0) == "0x0")
    }

    @Test func mapGPARangeValidation() {
        let ok = MapGPARangeRequest(gpa: 0x1f018000, pageCount: 1, attributes: 0).event(time: 1, path: .hypercall)
        guard case .conversion(let c) = ok else { Issue.record("expected conversion"); return }
        #expect(c.pages == PageRange(first: 0x1f018, count: 1))
        #expect(c.direction == .toShared)
        let priv = MapGPARangeRequest(gpa: 0x1000, pageCount: 2, attributes: 0x10).event(time: 1, path: .hypercall)
        guard case .conversion(let p) = priv else { Issue.record("expected conversion"); return }
        #expect(p.direction == .toPrivate)
        for (gpa, n, reason) in [(UInt64(0x1001), UInt64(1), RejectionReason.unalignedAddress),
                                 (0x1000, 0, .zeroPages),
                                 (0xffff_ffff_ffff_f000, UInt64.max, .wrapsAround)] {
            guard case .rejected(let r) = MapGPARangeRequest(gpa: gpa, pageCount: n, attributes: 0).event(time: 0, path: .hypercall) else {
                Issue.record("expected rejection for \(gpa) \(n)"); continue
            }
            #expect(r.reason == reason)
        }
    }
}
