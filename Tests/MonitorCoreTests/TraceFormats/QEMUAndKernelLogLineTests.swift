import Testing
@testable import MonitorCore

private typealias T = TraceFormatsTestSupport

/// QEMU trace-log lines (reference §12) and the SEV live-migration kernel log line (§11).
@Suite struct TraceFormatsQEMUAndKernelLogTests {
    @Test func mapGPARangeWithTidPrefix() throws {
        let c = try #require(T.conversion(T.parseOne(
            "40516@1767225600.123456:kvm_hc_map_gpa_range gpa 0x6a2f3000 size 0x1000 attributes 0x0 flags 0x1")))
        #expect(c.time == 1767225600.123456)
        #expect(c.pid == 40516)
        #expect(c.vcpu == -1)
        #expect(c.pages == PageRange(first: 0x6a2f3, count: 1))
        #expect(c.direction == .toShared)
        #expect(c.path == .qemu)
    }

    @Test func isoPrefixAndSizeInBytes() throws {
        let c = try #require(T.conversion(T.parseOne(
            "2026-01-01T00:00:00.123456Z kvm_hc_map_gpa_range gpa 0x7d400000 size 0x200000 attributes 0x11 flags 0x1")))
        #expect(c.time == 1767225600.123456)  // 2026-01-01T00:00:00Z = 1767225600
        #expect(c.pages == PageRange(first: 0x7d400, count: 512))
        #expect(c.direction == .toPrivate)
        #expect(c.pid == -1)
    }

    @Test func isoPrefixWithTid() throws {
        let c = try #require(T.conversion(T.parseOne(
            "2026-01-01T00:00:01.5Z (40517) kvm_convert_memory start 0x7d400000 size 0x1000 private_to_shared")))
        #expect(c.time == 1767225601.5)
        #expect(c.pid == 40517)
        #expect(c.direction == .toShared)
    }

    @Test func noPrefixUsesTheLastTime() throws {
        let outs = T.parse([
            "kvm_hc_map_gpa_range gpa 0x1000 size 0x1000 attributes 0x10 flags 0x1",
            "40516@5.25:kvm_run_exit cpu_index 1, reason 3",
            "kvm_hc_map_gpa_range gpa 0x1000 size 0x1000 attributes 0x10 flags 0x1",
        ])
        #expect(try #require(T.conversion(outs[0])).time == 0)
        #expect(outs[1] == .skipped)
        #expect(try #require(T.conversion(outs[2])).time == 5.25)
    }

    @Test func oneConversionCountedOnce() {
        let outs = T.parse([
            "40516@10.000001:kvm_hc_map_gpa_range gpa 0x6a2f3000 size 0x1000 attributes 0x0 flags 0x1",
            "40516@10.000002:kvm_convert_memory start 0x6a2f3000 size 0x1000 private_to_shared",
            // A lone convert_memory (e.g. a memory fault) counts.
            "40516@10.000003:kvm_convert_memory start 0x6a2f3000 size 0x1000 private_to_shared",
            // Different direction: not the same conversion.
            "40516@10.000004:kvm_hc_map_gpa_range gpa 0x6a2f3000 size 0x1000 attributes 0x10 flags 0x1",
            "40516@10.000005:kvm_convert_memory start 0x6a2f3000 size 0x1000 private_to_shared",
            // Noise between the pair does not break it.
            "40516@10.000006:kvm_hc_map_gpa_range gpa 0x2000 size 0x2000 attributes 0x10 flags 0x1",
            "40516@10.000007:kvm_run_exit cpu_index 1, reason 3",
            "40516@10.000008:kvm_convert_memory start 0x2000 size 0x2000 shared_to_private",
            // Another event between them does.
            "40516@10.000009:kvm_hc_map_gpa_range gpa 0x2000 size 0x2000 attributes 0x10 flags 0x1",
            "40516@10.000010:kvm_hc_map_gpa_range gpa 0x8000 size 0x1000 attributes 0x0 flags 0x1",
            "40516@10.000011:kvm_convert_memory start 0x2000 size 0x2000 shared_to_private",
        ])
        let kinds = outs.map { o -> String in
            switch o {
            case .event: "e"
            case .duplicate: "d"
            case .skipped: "s"
            case .malformed: "m"
            }
        }
        let expected = "ede" + "ee" + "esd" + "eee"
        #expect(kinds.joined() == expected)
    }

    @Test func rejectedMapGPARangeIsNotDeduplicated() {
        let outs = T.parse([
            "kvm_hc_map_gpa_range gpa 0x1001 size 0x1000 attributes 0x0 flags 0x1",
            "kvm_convert_memory start 0x1001 size 0x1000 private_to_shared",
        ])
        guard case .event(.rejected(let r)) = outs[0] else { Issue.record("expected rejected"); return }
        #expect(r.reason == .unalignedAddress)
        guard case .event(.rejected) = outs[1] else { Issue.record("expected rejected"); return }
    }

    @Test(arguments: [
        "kvm_hc_map_gpa_range gpa 0x1000 size 0x1000 attributes 0x0",
        "kvm_hc_map_gpa_range gpa 0x1000 size zz attributes 0x0 flags 0x1",
        "kvm_convert_memory start 0x1000 size 0x1000 sideways",
        "kvm_convert_memory start 0x1000 size 0x1000",
        "abc@1.5:kvm_convert_memory start 0x1000 size 0x1000 private_to_shared",
        "2026-13-01T00:00:00.123456Z kvm_convert_memory start 0x1000 size 0x1000 private_to_shared",
    ])
    func malformedQEMULines(line: String) {
        #expect(T.isMalformed(T.parseOne(line)), "\(line)")
    }

    @Test func otherQEMUEventsAreSkipped() {
        for line in ["40516@1.5:kvm_run_exit cpu_index 1, reason 3",
                     "kvm_hc_map_gpa_range_foo gpa 0x1"] {
            #expect(T.parseOne(line) == .skipped, "\(line)")
        }
    }

    // MARK: kernel log

    @Test func pageEncStatusLine() throws {
        let c = try #require(T.conversion(T.parseOne(
            "[   12.500731] page_enc_status_hc invoked, gpa = 7d4c2000, npages  = 1, enc = 0")))
        #expect(c.time == 12.500731)
        #expect(c.pages == PageRange(first: 0x7d4c2, count: 1))
        #expect(c.direction == .toShared)
        #expect(c.path == .kernelLog)
        #expect(c.pid == -1 && c.vcpu == -1)
    }

    @Test func pageEncStatusVariants() throws {
        let outs = T.parse([
            "[   12.500800] page_enc_status_hc invoked, gpa = 1f018000, npages = 1, enc = 1",
            "Nov 25 12:00:00 host kernel: [   12.6] page_enc_status_hc invoked, gpa = 100000, npages  = 200, enc = 1",
            "page_enc_status_hc invoked, gpa = 2000, npages  = 1, enc = 0",
            "[   13.000001][ T1234] page_enc_status_hc invoked, gpa = 3000, npages = 1, enc = 0",
        ])
        let c0 = try #require(T.conversion(outs[0]))
        #expect(c0.direction == .toPrivate && c0.time == 12.5008 && c0.pages == PageRange(first: 0x1f018, count: 1))
        let c1 = try #require(T.conversion(outs[1]))
        #expect(c1.time == 12.6 && c1.pages == PageRange(first: 0x100, count: 0x200) && c1.direction == .toPrivate)
        let c2 = try #require(T.conversion(outs[2]))
        #expect(c2.time == 12.6 && c2.pages.lower == 2)
        let c3 = try #require(T.conversion(outs[3]))
        #expect(c3.time == 13.000001)
    }

    @Test func pageEncStatusMalformed() {
        for line in ["[   12.7] page_enc_status_hc invoked, gpa = 2000, npages  = 1, enc = 7",
                     "[   12.7] page_enc_status_hc invoked, gpa = 2000, npages  = 1",
                     "[   12.7] page_enc_status_hc invoked, gpa = xyz, npages  = 1, enc = 1"] {
            #expect(T.isMalformed(T.parseOne(line)), "\(line)")
        }
        #expect(T.parseOne("[   12.8] kvm: SEV: something else") == .skipped)
    }
}
