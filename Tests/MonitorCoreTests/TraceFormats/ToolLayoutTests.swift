import Foundation
import Testing
@testable import MonitorCore

/// `kvm:kvm_hypercall` in every layout of ftrace, trace-cmd report and perf script, loss lines,
/// look-alike events and interleaved QEMU threads: fixtures written from the tools' format strings
/// (each names its source), checked against the page-set reference.
@Suite struct ToolLayoutTests {
    typealias T = TraceFormatsTestSupport
    typealias R = FidelityReference

    /// The calls in every `kvm-hypercall-*.txt` fixture, with the vCPU that made each.
    static let calls: [(call: R.Call, vcpu: Int32)] = [
        (R.Call(nr: 12, a0: 0x6a2f_3000, a1: 1, a2: 0x0), 2),
        (R.Call(nr: 12, a0: 0x7d40_0000, a1: 0x200, a2: 0x11), 0),
        (R.Call(nr: 12, a0: 0x7d40_0000, a1: 0x10, a2: 0x0), 1),
        (R.Call(nr: 12, a0: 0x6a2f_4000, a1: 3, a2: 0x30), 2),
        (R.Call(nr: 12, a0: 0x6a2f_3001, a1: 1, a2: 0x0), 0),
        (R.Call(nr: 12, a0: 0x1000, a1: UInt64.max, a2: 0x0), 1),
        (R.Call(nr: 1, a0: 0, a1: 0, a2: 0), 2),
        (R.Call(nr: 12, a0: 0x6a2f_5000, a1: 2, a2: 0xffff_ffff_ffff_ffe0), 0),
    ]
    static let threadOfVcpu: [Int32: Int32] = [0: 40515, 1: 40516, 2: 40517]

    static let layouts = [
        "ftrace", "ftrace-pre-5.9", "ftrace-record-tgid", "ftrace-no-irq-info", "ftrace-clock-counter",
        "trace-cmd", "trace-cmd-l", "trace-cmd-t", "trace-cmd-R", "trace-cmd-R-3.1", "trace-cmd-instances",
        "perf-script", "perf-script-pid-ns", "perf-script-event-trace", "perf-script-trace", "perf-script-tid-time",
    ]

    @Test(arguments: layouts)
    func kvmHypercallLayout(layout: String) throws {
        let fixture = "kvm-hypercall-\(layout).txt"
        let expected = R.of(Self.calls.map(\.call))
        #expect(expected.rejected == 2 && expected.reservedAttributeBits == 2 && expected.otherHypercalls == 1)
        let reader = try R.check(fixture: fixture, expected: expected)
        let (events, _) = try T.readFixture(fixture)
        let applied = Self.calls.filter { c in
            if case .conversion = MapGPARangeRequest(gpa: c.call.a0, pageCount: c.call.a1, attributes: c.call.a2).event(time: 0, path: .hypercall), c.call.nr == 12 { return true }
            return false
        }
        let conversions = events.compactMap { T.conversion(.event($0)) }
        #expect(conversions.count == applied.count)
        // Thread ids and vCPUs wherever the layout prints them (perf -F without them: -1).
        let printsThread = !["perf-script-event-trace", "perf-script-trace"].contains(layout)
        let printsComm = printsThread && layout != "perf-script-tid-time"
        for (c, a) in zip(conversions, applied) {
            #expect(c.pid == (printsThread ? Self.threadOfVcpu[a.vcpu]! : -1), "\(layout)")
            let commKnown = printsComm && !(layout == "ftrace-pre-5.9" && a.vcpu == 1)  // `<...>` comm
            #expect(c.vcpu == (commKnown ? a.vcpu : -1), "\(layout)")
        }
        let noTime = ["perf-script-event-trace", "perf-script-trace"].contains(layout)
        #expect(reader.parser.timeUnitUnknown == (noTime || layout == "ftrace-clock-counter"), "\(layout)")
        if !noTime && layout != "ftrace-clock-counter" {
            #expect(conversions.allSatisfy { $0.time > 9051 && $0.time < 9052 }, "\(layout)")
        }
    }

    @Test func lossLinesAreCountedOnceAndUnknownCountsStayUnknown() throws {
        var expected = R.of([R.Call(nr: 12, a0: 0x6a2f_3000, a1: 1, a2: 0), R.Call(nr: 12, a0: 0x7d40_0000, a1: 2, a2: 0)])
        expected.lost = 142
        expected.lossWithoutCount = 2
        let reader = try R.check(fixture: "loss-lines.txt", expected: expected)
        #expect(reader.counters.lostEvents == 142 && reader.counters.lossReportsWithoutCount == 2)
        let (events, _) = try T.readFixture("loss-lines.txt")
        let (_, m) = R.observed(events)
        #expect(m.totals.lossText() == "≥ 142")
        let status = SourceStatus.replay(name: "loss-lines.txt", counters: reader.counters, finished: true)
        #expect(status.droppedEvents == 0)  // the model has them; the summary adds the source's own drops
        let json = MonitorSummary.json(m.snapshot(), source: status).serialized()
        #expect(json.contains("\"lostEvents\": 142, \"lostEventsExact\": false"))
        #expect(MonitorSummary.text(m.snapshot(), source: status).contains("≥ 142"))
        var unknownOnly = Monitor()
        unknownOnly.apply(.lostEvents(time: 1, count: nil))
        #expect(unknownOnly.totals.lossText() == "unknown")
        #expect(Monitor().totals.lossText() == nil)
    }

    @Test func lookAlikesAreOtherHypercallsAndPSCCountsOnce() throws {
        var expected = R()
        expected.conversions = 2; expected.toShared = 1; expected.toPrivate = 1
        expected.otherHypercalls = 6
        expected.convertedPages = 2
        expected.shared = [0x7d4c2]
        _ = try R.check(fixture: "lookalike-hypercalls.txt", expected: expected)
        let (events, _) = try T.readFixture("lookalike-hypercalls.txt")
        let others = events.compactMap { e -> UInt64? in if case .otherHypercall(_, let n) = e { return n }; return nil }
        #expect(others == [0xc, 0xc, 0x1, 0xb, 0x014, 0x014])
        #expect(events.compactMap { T.conversion(.event($0)) }.allSatisfy { $0.path == .pageStateChange && $0.vcpu == 1 })
    }

    @Test(arguments: ["qemu-threads.log", "qemu-threads-iso.log"])
    func qemuThreadsPairByThreadAndContent(fixture: String) throws {
        var expected = R.of([
            R.Call(nr: 12, a0: 0x6a2f_3000, a1: 1, a2: 0), R.Call(nr: 12, a0: 0x7d40_0000, a1: 512, a2: 0x11),
            R.Call(nr: 12, a0: 0x8000_0000, a1: 1, a2: 0), R.Call(nr: 12, a0: 0x6a2f_4000, a1: 2, a2: 0),
            R.Call(nr: 12, a0: 0x9000_0000, a1: 1, a2: 0x10),
        ])
        expected.convertedPages = 1 + 512 + 1 + 2 + 1
        let reader = try R.check(fixture: fixture, expected: expected)
        #expect(reader.counters.duplicates == 4)
        let (events, _) = try T.readFixture(fixture)
        let cs = events.compactMap { T.conversion(.event($0)) }
        #expect(cs.allSatisfy { $0.path == .qemu })
        if fixture == "qemu-threads.log" { #expect(cs.map(\.pid) == [40515, 40516, 40517, 40515, 40516]) }
    }

    /// `--event [SYSTEM:]NAME` names a stand-in whose payload is not recognisable by itself (here a
    /// field before `nr`): its fields are then found by name.
    @Test func standInNamedByEventOption() throws {
        let text = "           guest-11600 [000] .....   373.928934: kvm_standin:map_gpa: flags=1 nr=12 a0=0x1000 a1=0x2 a2=0x0 a3=0x0\n"
            + "           guest-11600 [000] .....   373.928935: other_grp:map_gpa: flags=1 nr=12 a0=0x8000 a1=0x2 a2=0x10 a3=0x0\n"
        for (name, conversions) in [("kvm_standin:map_gpa", 1), ("kvm_standin/map_gpa", 1), ("map_gpa", 2), ("other:map_gpa", 0), (nil, 0)] {
            let reader = TraceReader(bytes: Array(text.utf8), standInEvent: name.flatMap(TraceEventName.init))
            var n = 0
            try reader.forEach { if case .conversion = $0 { n += 1 } }
            #expect(n == conversions, "\(name ?? "no --event")")
            #expect(reader.counters.malformed == 0)
        }
        #expect(TraceEventName("") == nil && TraceEventName("a:b:c") == nil)
    }

    /// A counter-clock trace reaches the summary as `timeUnit: unknown`, and the text says so.
    @Test func unknownTimeUnitReachesTheSummary() throws {
        for (fixture, unit) in [("kvm-hypercall-ftrace-clock-counter.txt", "unknown"), ("kvm-hypercall-ftrace.txt", "seconds")] {
            let (events, reader) = try T.readFixture(fixture)
            let (_, m) = R.observed(events)
            let status = SourceStatus.replay(name: fixture, counters: reader.counters, finished: true)
            #expect(MonitorSummary.json(m.snapshot(), source: status).serialized().contains("\"timeUnit\": \"\(unit)\""))
            #expect(MonitorSummary.text(m.snapshot(), source: status).contains("unit unknown") == (unit == "unknown"))
        }
    }

    /// Recordings keep anomalies and unknown loss counts; `count=0` of older recordings reads as unknown.
    @Test func recordingsKeepAnomaliesAndUnknownLoss() throws {
        let c = MapGPARangeRequest(gpa: 0xffff_ffff_ffff_f000, pageCount: 2, attributes: 0x30).event(time: 1.5, path: .hypercall)
        guard case .conversion(let conv) = c else { Issue.record("expected a conversion"); return }
        #expect(conv.anomalies == [.reservedAttributeBits, .beyondAddressSpace] && conv.direction == .toPrivate && conv.pages.count == 1)
        for e in [c, MonitorEvent.lostEvents(time: 2, count: nil), .lostEvents(time: 3, count: 7)] {
            let line = RecordingFormat.encode(e)
            #expect(try RecordingFormat.decodeResult(line).get() == e, "\(line)")
        }
        #expect(try RecordingFormat.decodeResult("lost t=4 count=0").get() == .lostEvents(time: 4, count: nil))
        #expect((try? RecordingFormat.decodeResult("conversion t=1 dir=shared gfn=0x1 pages=1 vcpu=-1 pid=-1 path=hypercall anomalies=odd").get()) == nil)
    }
}
