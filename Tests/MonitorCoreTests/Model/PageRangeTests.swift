import Testing
@testable import MonitorCore

@Suite struct PageRangeTests {
    @Test func clampsAtTheEndOfTheAddressSpace() {
        let r = PageRange(first: PageRange.maxPage - 2, count: 10)
        #expect(r.upper == PageRange.maxPage)
        #expect(r.count == 2)
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
