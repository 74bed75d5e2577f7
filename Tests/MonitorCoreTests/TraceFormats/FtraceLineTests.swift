import Testing
@testable import MonitorCore

private typealias T = TraceFormatsTestSupport

/// ftrace `trace`/`trace_pipe`, `trace-cmd report` and `perf script` lines (reference §5-§7).
@Suite struct TraceFormatsFtraceTests {
    /// The same hypercall in every layout: expected to give the same conversion (pid and vcpu
    /// differ where the layout says so).
    @Test(arguments: [
        // ≥5.13: 5-char flags, pid width 7
        ("       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 40517, 2),
        // record-tgid
        ("       CPU 2/KVM-40517   (  40480) [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 40517, 2),
        ("       CPU 2/KVM-40517   (-------) [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 40517, 2),
        // irq-info off
        ("       CPU 2/KVM-40517   [007]   9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 40517, 2),
        // pre-5.13 4-char flags, pre-5.9 pid width 5, comm unknown
        ("           <...>-2913  [001] d...  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 2913, -1),
        // long pid pushes the columns right
        ("       CPU 12/KVM-4194303 [127] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 4194303, 12),
        // comm with '-' in it; trace_pipe (no header)
        ("  qemu-system-x86-40480   [000] .....  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 40480, -1),
        // trace-cmd report 3.3+ (latency column, event padded to 20)
        ("       CPU 2/KVM-40517 [007] d..1.  9051.204113: kvm_hypercall:        nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 40517, 2),
        // trace-cmd report ≤3.2
        ("       CPU 2/KVM-40517 [007]  9051.204113: kvm_hypercall:        nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 40517, 2),
        // perf script, right-justified sys:name
        ("       CPU 2/KVM   40517 [007]  9051.204113:        kvm:kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 40517, 2),
        // perf script pid/tid
        ("       CPU 2/KVM   40480/40517   [007]  9051.204113: kvm:kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000", 40517, 2),
        // odd spacing, trailing blanks and CR
        ("CPU 2/KVM-40517 [007] d..1. 9051.204113: kvm_hypercall:   nr  0xc  a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000  \r", 40517, 2),
    ] as [(String, Int32, Int32)])
    func hypercallInEveryLayout(line: String, pid: Int32, vcpu: Int32) throws {
        let c = try #require(T.conversion(T.parseOne(line)))
        #expect(c.time == 9051.204113)
        #expect(c.pages == PageRange(first: 0x6a2f3, count: 1))
        #expect(c.direction == .toShared)
        #expect(c.pid == pid)
        #expect(c.vcpu == vcpu)
        #expect(c.path == .hypercall)
    }

    @Test func privateAndSizeHintAttributes() throws {
        let line = "       CPU 0/KVM-40515   [001] d..1.  9051.300000: kvm_hypercall: nr 0xc a0 0x7d400000 a1 0x200 a2 0x11 a3 0x0"
        let c = try #require(T.conversion(T.parseOne(line)))
        #expect(c.direction == .toPrivate)
        #expect(c.pages == PageRange(first: 0x7d400, count: 0x200))
        #expect(c.time == 9051.3)
    }

    @Test func counterClockTimestamp() throws {
        let line = "       CPU 0/KVM-40515   [001] d..1. 123456789012: kvm_hypercall: nr 0xc a0 0x1000 a1 0x1 a2 0x10 a3 0x0"
        let c = try #require(T.conversion(T.parseOne(line)))
        #expect(c.time == 123456789012)
    }

    @Test func nanosecondTimestamp() throws {
        let line = "       CPU 0/KVM   40515 [001]  9051.204188123:        kvm:kvm_hypercall: nr 0xc a0 0x1000 a1 0x1 a2 0x10 a3 0x0"
        let c = try #require(T.conversion(T.parseOne(line)))
        #expect(c.time == 9051.204188123)
    }

    @Test func otherHypercallNumber() {
        let o = T.parseOne("           <...>-2913  [001] d...   733.090125: kvm_hypercall: nr 0x5 a0 0x1 a1 0x0 a2 0x0 a3 0x0")
        #expect(o == .event(.otherHypercall(time: 733.090125, number: 5)))
    }

    @Test(arguments: [
        ("nr 0xc a0 0x6a2f3001 a1 0x1 a2 0x0 a3 0x0", RejectionReason.unalignedAddress),
        ("nr 0xc a0 0x6a2f3000 a1 0x0 a2 0x0 a3 0x0", .zeroPages),
        // gfn 1 + npages 2^64-1 wraps u64 (KVM's own test); reserved attribute bits are no reason.
        ("nr 0xc a0 0x1000 a1 0xffffffffffffffff a2 0x0 a3 0x0", .wrapsAround),
    ])
    func rejectedHypercalls(payload: String, reason: RejectionReason) throws {
        let o = T.parseOne("       CPU 2/KVM-40517   [007] d..1.  9051.5: kvm_hypercall: " + payload)
        guard case .event(.rejected(let r)) = o else { Issue.record("expected rejected, got \(o)"); return }
        #expect(r.reason == reason)
        #expect(r.pid == 40517)
        #expect(r.time == 9051.5)
    }

    @Test(arguments: [
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0",  // truncated
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x",
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0xzz a2 0x0 a3 0x0",  // garbage
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 6a2f3000 a1 0x1 a2 0x0 a3 0x0",  // no 0x
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x16a2f30000000000000 a1 0x1 a2 0x0 a3 0x0",  // overflow
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a1 0x1 a2 0x0 a3 0x0",  // missing a0
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x0 junk",
        "       CPU 2/KVM-40517   [007] d..1.  9051.2x4113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x0",  // bad time
        "       CPU 2/KVM-   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x0",  // no pid
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113 kvm_hypercall: nr 0xc",  // broken columns
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_vmgexit_msr_protocol_enter: vcpu 1, ghcb_gpa",
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_vmgexit_msr_protocol_enter: vcpu x, ghcb_gpa 002000007d4c2014",
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_vmgexit_msr_protocol_enter: vcpu 1, ghcb_gpa 1002000007d4c2014",
    ])
    func malformedLines(line: String) {
        let o = T.parseOne(line)
        #expect(T.isMalformed(o), "\(line) → \(o)")
    }

    @Test(arguments: [
        "       CPU 2/KVM-40517   [007] d..1.  9051.204120: kvm_userspace_exit: reason KVM_EXIT_HYPERCALL (3)",
        "       CPU 1/KVM-40516 [003] d..1.  9051.204190: kvm_exit:             reason UNKNOWN (1027) rip 0x0 info 0 0",
        "       CPU 1/KVM-40516 [003]  9051.204190: kvm_vmgexit_enter:    vcpu 1, exit_reason 80000010, exit_info1 0, exit_info2 0",
        "       CPU 1/KVM-40516 [003]  9051.204190: kvm_vmgexit_exit:    vcpu 1, exit_reason 80000010, exit_info1 0, exit_info2 0",
        "       CPU 1/KVM-40516   [003] d..1.  9051.204190: kvm_entry: vcpu 1, rip 0x0 intr_info 0x00000000 error_code 0x00000000",
        "       CPU 1/KVM-40516   [003] d..1.  9051.204190: kvm_page_fault: vcpu 1 rip 0x0 address 0x000000007d4c2000 error_code 0x6",
        "# tracer: nop",
        "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
        "",
        "   ",
        "cpus=8",
        "Some random text with [brackets] in it",
        "kvm [40480]: vcpu0, guest rIP: 0xffffffff81001234 unhandled rdmsr: 0x123",
        "       CPU 2/KVM-40517   [007] d..1.  9051.204113: probe_prog/f: (0x401126) x=1",
    ])
    func skippedLines(line: String) {
        #expect(T.parseOne(line) == .skipped, "\(line)")
    }

    @Test func lostAndDroppedEvents() {
        let outs = T.parse([
            "       CPU 2/KVM-40517   [007] d..1.  9051.25: kvm_userspace_exit: reason KVM_EXIT_HYPERCALL (3)",
            "CPU:3 [LOST 17 EVENTS]",
            "CPU:2 [120 EVENTS DROPPED]",
            "CPU:5 [EVENTS DROPPED]",
            "CPU:5 [LOST x EVENTS]",
        ])
        #expect(outs[1] == .event(.lostEvents(time: 9051.25, count: 17)))
        #expect(outs[2] == .event(.lostEvents(time: 9051.25, count: 120)))
        #expect(outs[3] == .event(.lostEvents(time: 9051.25, count: nil)))  // count unknown
        #expect(T.isMalformed(outs[4]))
    }

    // MARK: GHCB MSR protocol

    @Test func msrProtocolPageStateChange() throws {
        let line = "       CPU 1/KVM-40516   [003] d..1.  9051.400001: kvm_vmgexit_msr_protocol_enter: vcpu 1, ghcb_gpa 002000007d4c2014"
        let c = try #require(T.conversion(T.parseOne(line)))
        #expect(c.pages == PageRange(first: 0x7d4c2, count: 1))
        #expect(c.direction == .toShared)
        #expect(c.vcpu == 1)
        #expect(c.pid == 40516)
        #expect(c.path == .pageStateChange)
        #expect(c.time == 9051.400001)
    }

    @Test func msrProtocolVcpuComesFromTheField() throws {
        // A vCPU thread named otherwise: the field still gives the vCPU.
        let line = "           <...>-40516   [003] d..1.  9051.400001: kvm_vmgexit_msr_protocol_enter: vcpu 7, ghcb_gpa 001ffffffffff014"
        let c = try #require(T.conversion(T.parseOne(line)))
        #expect(c.vcpu == 7)
        #expect(c.direction == .toPrivate)
        #expect(c.pages.lower == 0xff_ffff_ffff)
    }

    @Test func msrProtocolDecoding() {
        #expect(TraceLineParser.pageStateChange(0x0020_0000_7d4c_2014)! == (0x7d4c2, false))
        #expect(TraceLineParser.pageStateChange(0x0010_0000_7d4c_2014)! == (0x7d4c2, true))
        #expect(TraceLineParser.pageStateChange(0x0030_0000_7d4c_2014) == nil)  // PSMASH
        #expect(TraceLineParser.pageStateChange(0x0040_0000_7d4c_2014) == nil)  // UNSMASH
        #expect(TraceLineParser.pageStateChange(0x0020_0000_7d4c_2015) == nil)  // response
        #expect(TraceLineParser.pageStateChange(0x0000_0002_0000_0004) == nil)  // CPUID request
        // Bits 63:56 are not part of the GFN or the operation.
        #expect(TraceLineParser.pageStateChange(0xff20_0000_7d4c_2014)! == (0x7d4c2, false))
    }

    @Test func msrProtocolOtherRequestsAreSkipped() {
        let base = "       CPU 1/KVM-40516   [003] d..1.  9051.400002: kvm_vmgexit_msr_protocol_enter: vcpu 1, ghcb_gpa "
        for v in ["0000000200000004", "0000000000000012", "003000007d4c2014", "0000000000000100"] {
            #expect(T.parseOne(base + v) == .skipped, "\(v)")
        }
    }

    // MARK: uprobe stand-in

    @Test(arguments: [
        "       hcprobe-1234    [002] ..... 100.250000: encmon_test/hc: (0x401136) nr=12 a0=520093696 a1=1 a2=0 a3=0",
        "       hcprobe-1234    [002] ..... 100.250000: encmon_test/hc: (0x401136) nr=0xc a0=0x1f000000 a1=0x1 a2=0x0 a3=0x0",
        "       hcprobe-1234    [002] ..... 100.250000: hc: nr=12 a0=520093696 a1=1 a2=0 a3=0",
    ])
    func uprobeStandIn(line: String) throws {
        let c = try #require(T.conversion(T.parseOne(line)))
        #expect(c.pages == PageRange(first: 520093696 >> 12, count: 1))
        #expect(c.direction == .toShared)
        #expect(c.pid == 1234)
        #expect(c.vcpu == -1)
        #expect(c.time == 100.25)
        #expect(c.path == .hypercall)
    }

    @Test func uprobeOtherNumberAndMalformed() {
        let outs = T.parse([
            "       hcprobe-1234    [002] ..... 100.250000: encmon_test/hc: (0x401136) nr=5 a0=1 a1=0 a2=0 a3=0",
            "       hcprobe-1234    [002] ..... 100.250000: encmon_test/hc: (0x401136) nr=12 a0=52x a1=1 a2=0 a3=0",
            "       hcprobe-1234    [002] ..... 100.250000: encmon_test/hc: (0x401136) nr=12 a0=1",
        ])
        #expect(outs[0] == .event(.otherHypercall(time: 100.25, number: 5)))
        #expect(T.isMalformed(outs[1]))
        #expect(T.isMalformed(outs[2]))
    }
}
