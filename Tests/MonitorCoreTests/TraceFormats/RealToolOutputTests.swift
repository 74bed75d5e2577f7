import Foundation
import Testing
@testable import MonitorCore

/// Real output of the tools (captured here from a uprobe stand-in in an own tracefs instance, see
/// the fixtures' headers) read back against the page-set reference of the program's calls.
@Suite struct RealToolOutputTests {
    typealias T = TraceFormatsTestSupport
    typealias R = FidelityReference

    static let secondsClocks = ["local", "global", "perf", "mono", "mono_raw", "boot", "tai"]
    static let tickClocks = ["counter", "uptime", "x86-tsc"]

    static var standInFixtures: [String] {
        let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasPrefix("standin-") && $0.hasSuffix(".txt") && !$0.contains("lost") }.sorted()
    }

    @Test func everyLayoutIsCovered() {
        let f = Self.standInFixtures
        #expect(f.count >= 35)
        for clock in Self.secondsClocks + Self.tickClocks { #expect(f.contains("standin-ftrace-clock-\(clock).txt")) }
        for layout in ["default", "l", "t", "R"] { #expect(f.contains("standin-trace-cmd-report-\(layout).txt")) }
    }

    @Test(arguments: standInFixtures)
    func standInTraceMatchesTheProgram(fixture: String) throws {
        let expected = R.of(R.standInGuestCalls)
        #expect(expected.conversions == 7 && expected.rejected == 2 && expected.otherHypercalls == 1)
        let reader = try R.check(fixture: fixture, expected: expected)
        #expect(reader.counters.duplicates == 0)
    }

    @Test(arguments: standInFixtures)
    func timeUnitIsKnownOnlyForSecondsClocks(fixture: String) throws {
        let (events, reader) = try T.readFixture(fixture)
        let ticks = Self.tickClocks.contains { fixture == "standin-ftrace-clock-\($0).txt" }
        let noTime = fixture.hasPrefix("standin-perf-script-F-") && !fixture.contains("time")
        #expect(reader.parser.timeUnitUnknown == (ticks || noTime), "\(fixture)")
        #expect(reader.counters.timeUnitUnknown == reader.parser.timeUnitUnknown)
        if !ticks && !noTime {
            let times = events.map(\.time)
            // Seconds since boot, or since 1970 for the tai clock.
            let range: ClosedRange<Double> = fixture.contains("clock-tai") ? 1.7e9...2.1e9 : 300...2000
            #expect(times.allSatisfy { range.contains($0) }, "\(fixture): \(times.prefix(2))")
        }
    }

    /// The second thread's calls carry its own thread id wherever the tool prints one.
    @Test(arguments: standInFixtures)
    func threadIdsFollowTheColumns(fixture: String) throws {
        let (events, _) = try T.readFixture(fixture)
        let pids = Set(events.compactMap { e -> Int32? in
            if case .conversion(let c) = e { return c.pid }
            if case .rejected(let r) = e { return r.pid }
            return nil
        })
        let perfColumns = fixture.hasPrefix("standin-perf-script-F-") ? fixture : "tid"
        if perfColumns.contains("tid") {
            #expect(pids.count == 2 && pids.allSatisfy { $0 > 0 }, "\(fixture): \(pids)")
        } else if perfColumns.contains("pid") {
            #expect(pids.count == 1 && pids.allSatisfy { $0 > 0 }, "\(fixture): \(pids)")  // perf pid = process id
        } else {
            #expect(pids == [-1], "\(fixture): \(pids)")
        }
    }

    /// CRLF line ends and very long unrelated lines around real ftrace text change nothing.
    @Test func crlfAndLongUnrelatedLines() throws {
        let text = try String(contentsOf: T.fixtureURL("standin-ftrace-clock-local.txt"), encoding: .utf8)
        var lines: [String] = []
        for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            lines.append(String(line))
            if k % 4 == 1 { lines.append("             gdb-1234    [001] ..... 369.1: print: " + String(repeating: "x", count: 9000 + k)) }
        }
        let crlf = lines.joined(separator: "\r\n")
        let (events, reader) = try T.readAll(crlf, chunkSize: 4096)
        let (seen, _) = R.observed(events)
        #expect(reader.counters.malformed == 0)
        #expect(seen == R.of(R.standInGuestCalls))
    }

    /// trace_pipe through a stalled reader: each LOST line adds its count once; the events kept and
    /// the events lost add up to the 3000 calls the program made.
    @Test func ringBufferOverrunIsCountedOnce() throws {
        let text = try String(contentsOf: T.fixtureURL("standin-ftrace-trace-pipe-lost.txt"), encoding: .utf8)
        // A naive reading of the same file for the reference.
        var calls: [R.Call] = []
        var lost: UInt64 = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("CPU:"), let n = line.split(separator: " ").dropFirst(2).first.flatMap({ UInt64($0) }) { lost += n }
            guard line.contains("hc_loop:") else { continue }
            var f: [String: UInt64] = [:]
            for part in line.split(separator: " ") where part.contains("=") {
                let kv = part.split(separator: "=")
                f[String(kv[0])] = UInt64(kv[1])
            }
            calls.append(R.Call(nr: f["nr"]!, a0: f["a0"]!, a1: f["a1"]!, a2: f["a2"]!))
        }
        #expect(UInt64(calls.count) + lost == 3000)
        var expected = R.of(calls)
        expected.lost = lost
        let reader = try R.check(fixture: "standin-ftrace-trace-pipe-lost.txt", expected: expected)
        #expect(reader.counters.lostEvents == lost && reader.counters.lossReportsWithoutCount == 0)
        let (events, _) = try T.readFixture("standin-ftrace-trace-pipe-lost.txt")
        let (_, m) = R.observed(events)
        #expect(m.totals.lossText() == "\(lost)")
        #expect(MonitorSummary.json(m.snapshot(), source: SourceStatus(kind: .replay, name: "x")).serialized().contains("\"lostEvents\": \(lost), \"lostEventsExact\": true"))
    }
}
