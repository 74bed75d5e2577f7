import Foundation
import Testing
@testable import MonitorCore

private typealias T = TraceFormatsTestSupport

/// The streaming reader: chunk boundaries, line ends, overlong lines, fixtures, replay source.
@Suite struct TraceFormatsReaderTests {
    static let hypercall = "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x1 a2 0x0 a3 0x2000"

    static func mixedText() -> String {
        var lines: [String] = []
        var g = TraceFormatsRandom(state: 7)
        for k in 0..<400 {
            switch g.next() % 8 {
            case 0: lines.append("       CPU \(k % 4)/KVM-4051\(k % 4)   [00\(k % 8)] d..1.  \(9000 + k).\(String(format: "%06d", k)): kvm_hypercall: nr 0xc a0 0x\(String(k * 0x1000, radix: 16)) a1 0x1 a2 0x\(k % 2 == 0 ? "0" : "10") a3 0x0")
            case 1: lines.append("       CPU 1/KVM-40516   [003] d..1.  \(9000 + k).5: kvm_exit: vcpu 1 reason vmgexit rip 0x0")
            case 2: lines.append("# comment \(k)")
            case 3: lines.append("CPU:\(k % 8) [LOST \(k) EVENTS]")
            case 4: lines.append("")
            case 5: lines.append("       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0xzz a2 0x0 a3 0x0")
            case 6: lines.append("\(k)@\(k).25:kvm_hc_map_gpa_range gpa 0x\(String(k * 0x1000, radix: 16)) size 0x1000 attributes 0x10 flags 0x1")
            default: lines.append("\(k)@\(k).5:kvm_convert_memory start 0x\(String(k * 0x1000, radix: 16)) size 0x1000 shared_to_private")
            }
        }
        return lines.enumerated().map { $0.offset % 3 == 0 ? $0.element + "\r" : $0.element }.joined(separator: "\n")
    }

    @Test func chunkBoundariesDoNotChangeTheResult() throws {
        let text = Self.mixedText()
        let (reference, r0) = try T.readAll(text)
        #expect(reference.count > 100)
        #expect(r0.counters.malformed > 0)
        for chunk in [1, 2, 3, 7, 64, 113, 4096] {
            let (events, r) = try T.readAll(text, chunkSize: chunk)
            #expect(events == reference, "chunk \(chunk)")
            #expect(r.counters == r0.counters, "chunk \(chunk)")
            #expect(r.malformedSamples == r0.malformedSamples, "chunk \(chunk)")
        }
    }

    @Test func countersAddUp() throws {
        let (events, r) = try T.readAll(Self.mixedText())
        let c = r.counters
        #expect(c.lines == 400)
        #expect(c.events == UInt64(events.count))
        #expect(c.lines == c.events + c.skipped + c.malformed + c.duplicates)
        #expect(c.bytesRead == c.fileSize)
        #expect(c.progress == 1)
        #expect(r.isFinished)
    }

    @Test func crlfAndTruncatedLastLine() throws {
        let text = Self.hypercall + "\r\n" + Self.hypercall + "\r\n" + Self.hypercall
        for chunk in [1, 5, 1 << 20] {
            let (events, r) = try T.readAll(text, chunkSize: chunk)
            #expect(events.count == 3)
            #expect(r.counters.lines == 3)
            #expect(r.counters.malformed == 0)
        }
        // A hypercall cut mid-line at the end of the file is malformed, not fatal.
        let cut = Self.hypercall + "\n" + String(Self.hypercall.prefix(80))
        let (events, r) = try T.readAll(cut, chunkSize: 16)
        #expect(events.count == 1)
        #expect(r.counters.malformed == 1)
        #expect(r.malformedSamples.first?.lineNumber == 2)
    }

    @Test func overlongLines() throws {
        let long = String(repeating: "x", count: 10_000)
        let overlongEvent = Self.hypercall + String(repeating: " a3 0x0", count: 1000)
        let text = [Self.hypercall, long, Self.hypercall, overlongEvent, Self.hypercall].joined(separator: "\n") + "\n"
        var reference: TraceReadCounters?
        for chunk in [1, 100, 4096, 5000, 1 << 20] {
            let (events, r) = try T.readAll(text, chunkSize: chunk)
            #expect(events.count == 3, "chunk \(chunk)")
            #expect(r.counters.lines == 5)
            #expect(r.counters.skipped == 1)
            #expect(r.counters.malformed == 1)
            #expect(r.malformedSamples.map(\.lineNumber) == [4])
            #expect(r.malformedSamples.first?.reason.contains("longer than 4096") == true)
            if let reference { #expect(r.counters == reference) } else { reference = r.counters }
        }
        // An overlong last line without newline.
        let (events, r) = try T.readAll(Self.hypercall + "\n" + overlongEvent, chunkSize: 333)
        #expect(events.count == 1)
        #expect(r.counters.malformed == 1)
    }

    @Test func memoryStaysBounded() throws {
        // 3 MB of one line: read in 64 KiB chunks, never buffered whole.
        let text = Self.hypercall + "\n" + String(repeating: "y", count: 3_000_000) + "\n" + Self.hypercall + "\n"
        let (events, r) = try T.readAll(text, chunkSize: 1 << 16)
        #expect(events.count == 2)
        #expect(r.counters.skipped == 1)
    }

    @Test func malformedSamplesAreCappedAndClipped() throws {
        let bad = "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0xq a1 0x1 a2 0x0 a3 0x0" + String(repeating: " ", count: 300)
        let text = Array(repeating: bad, count: 25).joined(separator: "\n")
        let (_, r) = try T.readAll(text)
        #expect(r.counters.malformed == 25)
        #expect(r.malformedSamples.count == TraceReader.malformedSampleLimit)
        #expect(r.malformedSamples.map(\.lineNumber) == Array(1...10))
        #expect(r.malformedSamples[0].reason == "kvm_hypercall: bad or missing a0")
        #expect(r.malformedSamples[0].text.count <= MalformedLine.maxTextLength + 1)
        #expect(r.malformedSamples[0].description.hasPrefix("line 1: kvm_hypercall: bad or missing a0: "))
    }

    // MARK: fixtures

    @Test func mixedFtraceFixture() throws {
        let (events, r) = try T.readFixture("mixed-ftrace.txt")
        #expect(events.count == 7)
        #expect(r.counters.malformed == 1)
        #expect(r.malformedSamples.first?.lineNumber == 33)
        #expect(r.counters.lostEvents == 17)
        let c0 = try #require(T.conversion(.event(events[0])))
        #expect(c0 == Conversion(time: 9051.204113, pages: PageRange(first: 0x6a2f3, count: 1), direction: .toShared,
                                 vcpu: 2, pid: 40517, path: .hypercall))
        let c1 = try #require(T.conversion(.event(events[1])))
        #expect(c1 == Conversion(time: 9051.3, pages: PageRange(first: 0x7d400, count: 0x200), direction: .toPrivate,
                                 vcpu: 0, pid: 40515, path: .hypercall))
        let c2 = try #require(T.conversion(.event(events[2])))
        #expect(c2 == Conversion(time: 9051.400001, pages: PageRange(first: 0x7d4c2, count: 1), direction: .toShared,
                                 vcpu: 1, pid: 40516, path: .pageStateChange))
        #expect(events[3] == .lostEvents(time: 9051.400002, count: 17))
        #expect(events[4] == .otherHypercall(time: 9051.5, number: 5))
        guard case .rejected(let rej) = events[5] else { Issue.record("expected rejected"); return }
        #expect(rej.reason == .unalignedAddress && rej.pid == 40518)
        let c6 = try #require(T.conversion(.event(events[6])))
        #expect(c6.pages == PageRange(first: 0x100, count: 0x100) && c6.vcpu == 3 && c6.time == 9051.6)
    }

    @Test func traceCmdReportFixture() throws {
        let (events, r) = try T.readFixture("trace-cmd-report.txt")
        #expect(r.counters.malformed == 0)
        #expect(events.count == 5)
        let c0 = try #require(T.conversion(.event(events[0])))
        #expect(c0.time == 9051.204191 && c0.vcpu == 1 && c0.pid == 40516 && c0.direction == .toShared)
        #expect(events[1] == .lostEvents(time: 9051.204191, count: 120))
        let c2 = try #require(T.conversion(.event(events[2])))
        #expect(c2.pages == PageRange(first: 0x7d400, count: 0x200) && c2.direction == .toPrivate)
        #expect(events[3] == .lostEvents(time: 9051.204310, count: nil))
        let c4 = try #require(T.conversion(.event(events[4])))
        #expect(c4.path == .pageStateChange && c4.direction == .toPrivate && c4.pages.lower == 0x7d4c2)
    }

    @Test func perfScriptFixture() throws {
        let (events, r) = try T.readFixture("perf-script.txt")
        #expect(r.counters.malformed == 0)
        #expect(events.count == 3)
        let c0 = try #require(T.conversion(.event(events[0])))
        #expect(c0 == Conversion(time: 9051.204188, pages: PageRange(first: 0x6a2f3, count: 1), direction: .toShared,
                                 vcpu: 1, pid: 40516, path: .hypercall))
        let c1 = try #require(T.conversion(.event(events[1])))
        #expect(c1.path == .pageStateChange && c1.vcpu == 2 && c1.pid == 40517 && c1.pages.lower == 0x7d4c3)
        guard case .rejected(let rej) = events[2] else { Issue.record("expected rejected"); return }
        #expect(rej.reason == .zeroPages && rej.pid == 40480)
    }

    @Test func qemuTraceFixture() throws {
        let (events, r) = try T.readFixture("qemu-trace.log")
        #expect(r.counters.duplicates == 2)
        #expect(r.counters.malformed == 0)
        let cs = events.compactMap { T.conversion(.event($0)) }
        #expect(cs.count == 5)
        #expect(cs.map(\.pages.lower) == [0x6a2f3, 0x7d400, 0x7d400, 0x1, 0x2])
        #expect(cs.map(\.direction) == [.toShared, .toPrivate, .toPrivate, .toPrivate, .toPrivate])
        #expect(cs[1].time == 1767225600.12347)  // no prefix: the last time seen
        #expect(cs.allSatisfy { $0.path == .qemu })
    }

    @Test func dmesgFixture() throws {
        let (events, r) = try T.readFixture("dmesg-sev-lm.txt")
        #expect(r.counters.malformed == 1)
        #expect(r.malformedSamples.first?.lineNumber == 6)
        let cs = events.compactMap { T.conversion(.event($0)) }
        #expect(cs.map(\.pages) == [PageRange(first: 0x7d4c2, count: 1), PageRange(first: 0x1f018, count: 1),
                                    PageRange(first: 0x100, count: 0x200), PageRange(first: 2, count: 1)])
        #expect(cs.map(\.direction) == [.toShared, .toPrivate, .toPrivate, .toShared])
        #expect(cs.map(\.time) == [12.500731, 12.5008, 12.6, 12.6])
    }

    @Test func fixturesParseTheSameInTinyChunks() throws {
        for name in ["mixed-ftrace.txt", "trace-cmd-report.txt", "perf-script.txt", "qemu-trace.log", "dmesg-sev-lm.txt"] {
            let (a, ra) = try T.readFixture(name)
            let (b, rb) = try T.readFixture(name, chunkSize: 3)
            #expect(a == b, "\(name)")
            #expect(ra.counters == rb.counters, "\(name)")
        }
    }

    // MARK: replay source

    @Test func replaySourcePollsByTime() throws {
        let path = try T.fixtureURL("mixed-ftrace.txt").path
        let source = try TraceReplaySource(path: path)
        #expect(try source.peekNextTime() == 9051.204113)
        var out: [MonitorEvent] = []
        #expect(try source.poll(until: 9051.35, limit: 100, into: &out))
        #expect(out.count == 2)
        #expect(try source.peekNextTime() == 9051.400001)
        #expect(try source.poll(until: nil, limit: 2, into: &out))
        #expect(out.count == 4)
        var s = source.status
        #expect(s.kind == .replay && s.name == "mixed-ftrace.txt" && !s.finished)
        #expect(s.position.hasPrefix("line "))
        #expect(s.droppedEvents == 0)  // the LOST line is an event for the model, not counted twice
        #expect(try !source.poll(until: nil, limit: 100, into: &out))
        #expect(out.count == 7)
        s = source.status
        #expect(s.finished && s.progress == 1 && s.malformedLines == 1 && s.lines == 35)
        #expect(s.position.hasSuffix("(100%)"))
        #expect(source.malformedSamples.count == 1)
        #expect(try source.peekNextTime() == nil)
    }

    @Test func replaySourceReadAll() throws {
        // The whole-file `readAll` was unused and is gone; `poll` with no bound reads it all.
        let source = try TraceReplaySource(path: try T.fixtureURL("mixed-ftrace.txt").path)
        #expect(try source.peekNextTime() != nil)  // the lookahead event must not be lost
        var all: [MonitorEvent] = []
        while try source.poll(until: nil, limit: 3, into: &all) {}
        let n = all.count
        #expect(n == 7)
        #expect(source.status.finished)
    }

    @Test func openErrorNamesThePath() {
        do {
            _ = try TraceReplaySource(path: "/no/such/trace.txt")
            Issue.record("expected an error")
        } catch let e as TraceReplayError {
            #expect(e == .cannotOpen(path: "/no/such/trace.txt", errno: ENOENT))
            #expect(e.description.contains("/no/such/trace.txt") && e.description.contains("No such file or directory"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
