#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Arithmetic at the edges, end to end: constructed ftrace files through `encmon replay --json`,
/// checking the figures (not only that nothing trapped). The expected values follow KVM's rule
/// (README "KVM's rule"): a MAP_GPA_RANGE call is rejected only when unaligned, empty, or when
/// gfn + npages wraps u64; a range past the end of the 64-bit space is applied up to that end.
/// Model-level property tests of the same cases live in MonitorCoreTests (HostileInputTests).
@Suite(.serialized) struct ArithmeticEdgeTests {
    static let pageSpace: UInt64 = 1 << 52   // 4 KiB pages in the 64-bit space

    /// One ftrace `kvm_hypercall` line for MAP_GPA_RANGE (a2 bit 4: to private).
    static func call(_ time: String, gpa: UInt64, pages: UInt64, toPrivate: Bool = false) -> String {
        "       CPU 0/KVM-40515   [004] d..1.  \(time): kvm_hypercall: nr 0xc a0 0x\(String(gpa, radix: 16)) "
            + "a1 0x\(String(pages, radix: 16)) a2 0x\(toPrivate ? "10" : "0") a3 0x0"
    }

    /// Replays `lines` and returns the raw JSON text and its parsed form.
    func replay(_ name: String, _ lines: [String]) throws -> (text: String, json: [String: Any], stderr: String) {
        let path = writeTemp(name, lines.joined(separator: "\n") + "\n")
        defer { unlink(path) }
        let r = try run(Built.encmon, ["replay", path, "--json"])
        try #require(r.status == 0, "exit \(r.status): \(r.stderr)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        return (r.stdout, json, r.stderr)
    }

    /// A top-level unsigned figure read from the JSON text itself (exact beyond 2^53, where a
    /// Double would round). Top-level keys come before the nested objects that reuse the name.
    func figure(_ text: String, _ key: String) -> UInt64? {
        guard let r = text.range(of: "\"\(key)\": ") else { return nil }
        return UInt64(text[r.upperBound...].prefix { $0.isNumber })
    }

    @Test func rangesEndingAtTheTopOfThe64BitSpace() throws {
        let top: UInt64 = 0xffff_ffff_ffff_f000    // the last page
        let (text, j, _) = try replay("arith-top", [
            Self.call("100.000000", gpa: top, pages: 1),               // ends exactly at 2^64
            Self.call("100.100000", gpa: top - 0x1000, pages: 2),      // the last two pages
            Self.call("100.200000", gpa: top, pages: 2),               // past 2^64, gfn + 2 no wrap: applied up to the end
            Self.call("100.300000", gpa: 0x1000, pages: .max),         // gfn + npages wraps u64: rejected
            Self.call("100.400000", gpa: top, pages: 1, toPrivate: true),
        ])
        #expect(figure(text, "conversions") == 4)
        #expect(figure(text, "pagesToShared") == 1 + 2 + 1)           // the third call counts its applied page
        #expect(figure(text, "pagesToPrivate") == 1)
        #expect(figure(text, "rejected") == 1)
        #expect((j["rejectedByReason"] as? [String: Any])?["range-wraps"] as? Int == 1)
        #expect((j["anomalies"] as? [String: Any])?["beyondAddressSpace"] as? Int == 1)
        #expect(figure(text, "sharedPages") == 1)
        #expect(figure(text, "sharedBytes") == 4096)
        let regions = try #require(j["regions"] as? [[String: Any]])
        #expect(regions.count == 1)
        #expect(regions.first?["gpa"] as? String == "0xffffffffffffe000")
        #expect(regions.first?["pages"] as? Int == 1)
    }

    @Test func pageCountsNearIntMaxSaturateInsteadOfWrapping() throws {
        // 0x7fff… pages from gpa 0: gfn + npages does not wrap, so KVM applies it; encmon applies
        // the 2^52 pages that exist. 4100 such calls name more than 2^64 pages in all.
        let calls = (0..<4100).map { Self.call(String(format: "%d.000000", 10 + $0), gpa: 0, pages: UInt64(Int.max)) }
        let (text, j, _) = try replay("arith-intmax", calls + [Self.call("5000.000000", gpa: 0, pages: UInt64(Int.max), toPrivate: true)])
        #expect(figure(text, "conversions") == 4101)
        #expect(figure(text, "toShared") == 4100)
        #expect(figure(text, "pagesToShared") == UInt64.max)          // 4100 × 2^52 > 2^64: saturated
        #expect(figure(text, "pagesToPrivate") == Self.pageSpace)
        #expect((j["anomalies"] as? [String: Any])?["beyondAddressSpace"] as? Int == 4101)
        #expect(figure(text, "sharedPages") == 0)
        #expect(figure(text, "regionCount") == 0)

        // The whole space shared: 2^52 pages, 2^64 bytes saturating at 2^64 - 1.
        let (full, _, _) = try replay("arith-fullspace", [Self.call("1.000000", gpa: 0, pages: UInt64(Int.max))])
        #expect(figure(full, "sharedPages") == Self.pageSpace)
        #expect(figure(full, "sharedBytes") == UInt64.max)
        #expect(figure(full, "regionCount") == 1)
    }

    @Test func lostEventCountsSaturateAndOverlongCountsAreMalformed() throws {
        let (text, _, stderr) = try replay("arith-lost", [
            "CPU:0 [LOST 18446744073709551615 EVENTS]",
            Self.call("1.000000", gpa: 0x1000, pages: 1),
            "CPU:1 [LOST 18446744073709551615 EVENTS]",
            "CPU:1 [LOST 99999999999999999999 EVENTS]",               // more than 2^64: not a number encmon can hold
        ])
        #expect(figure(text, "lostEvents") == UInt64.max)
        #expect(figure(text, "malformed") == 1)
        #expect(figure(text, "sharedPages") == 1)
        #expect(stderr.contains(":4: malformed line"), "\(stderr)")
    }

    @Test func timestampsGoingBackwardsKeepTheClockMonotonic() throws {
        let (text, j, _) = try replay("arith-backwards", [
            Self.call("100.000000", gpa: 0x100000, pages: 16),
            Self.call("50.000000", gpa: 0x200000, pages: 16),          // 50 s back
            Self.call("200.000000", gpa: 0x100000, pages: 16, toPrivate: true),
            Self.call("150.000000", gpa: 0x300000, pages: 1),          // back again, within 60 s of 200
            Self.call("0.000001", gpa: 0x400000, pages: 2),            // back to the start of time
            // Another hypercall (nr 5) at 201.5 completes the second [200, 201) for the rates.
            "       CPU 0/KVM-40515   [004] d..1.  201.500000: kvm_hypercall: nr 0x5 a0 0x0 a1 0x0 a2 0x0 a3 0x0",
        ])
        // Every call is applied in file order: the set is exact.
        #expect(figure(text, "conversions") == 5)
        #expect(figure(text, "otherHypercalls") == 1)
        #expect(figure(text, "sharedPages") == 16 + 1 + 2)
        let regions = try #require(j["regions"] as? [[String: Any]])
        #expect(regions.map { $0["gpa"] as? String } == ["0x200000", "0x300000", "0x400000"])
        // Event time never runs backwards: it starts at the first line and ends at the latest.
        #expect(j["firstEventTime"] as? Double == 100)
        #expect(j["lastEventTime"] as? Double == 201.5)
        // Rates stay finite and non-negative. Late lines land in the current second (RateTracker:
        // the clock never moves back), so the last complete second, [200, 201), holds the private
        // call at 200 and the two shared calls that came after it in the file (stamped 150 and
        // 0.000001).
        let rates = try #require(j["rates"] as? [[String: Any]])
        for r in rates {
            for key in ["callsToShared", "callsToPrivate", "pagesToShared", "pagesToPrivate", "flips"] {
                let v = try #require(r[key] as? Double, "\(key) in \(r)")
                #expect(v.isFinite && v >= 0, "\(key) = \(v)")
            }
        }
        let second = try #require(rates.first { $0["window"] as? Int == 1 })
        #expect(second["callsToPrivate"] as? Double == 1)
        #expect(second["pagesToPrivate"] as? Double == 16)
        #expect(second["callsToShared"] as? Double == 2)
        #expect(second["pagesToShared"] as? Double == 3)
    }
}
