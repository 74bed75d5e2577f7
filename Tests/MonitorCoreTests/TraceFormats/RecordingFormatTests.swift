import Foundation
import Testing
@testable import MonitorCore

private typealias T = TraceFormatsTestSupport

/// The shared deterministic generator, so that failures reproduce.
typealias TraceFormatsRandom = SplitMix64

@Suite struct TraceFormatsRecordingTests {
    static func randomDouble(_ g: inout TraceFormatsRandom) -> Double {
        switch g.next() % 5 {
        case 0: return Double(g.next() % 100_000) / 1_000_000 + Double(g.next() % 100_000)
        case 1: return Double(bitPattern: g.next() & 0x7fef_ffff_ffff_ffff)  // any finite positive
        case 2: return -Double(bitPattern: g.next() & 0x7fef_ffff_ffff_ffff)
        case 3: return [0, -0.0, 1e-300, .leastNonzeroMagnitude, .infinity, -.infinity, 1e22, 0.1][Int(g.next() % 8)]
        default: return Double(g.next() % 1_000_000_000) / 1000
        }
    }

    static func randomString(_ g: inout TraceFormatsRandom) -> String {
        let pieces = ["a", "Z", " ", "%", "%2", ",", ":", "=", "\n", "\r", "\t", "é", "🙂", "#", "0x", "\u{7f}", "\u{0}", "phase"]
        return (0..<Int(g.next() % 8)).map { _ in pieces[Int(g.next() % UInt64(pieces.count))] }.joined()
    }

    static func randomRange(_ g: inout TraceFormatsRandom) -> PageRange {
        let first = g.next() % (PageRange.maxPage + 1)
        return PageRange(lower: first, upper: first + g.next() % (PageRange.maxPage - first + 1))
    }

    static func randomEvent(_ g: inout TraceFormatsRandom) -> MonitorEvent {
        let t = randomDouble(&g)
        let i32 = { (g: inout TraceFormatsRandom) in Int32(truncatingIfNeeded: g.next()) }
        switch g.next() % 9 {
        case 0:
            return .conversion(Conversion(time: t, pages: randomRange(&g), direction: g.next() % 2 == 0 ? .toShared : .toPrivate,
                                          vcpu: i32(&g), pid: i32(&g),
                                          path: ConversionPath.allCases[Int(g.next() % UInt64(ConversionPath.allCases.count))]))
        case 1:
            let reasons: [RejectionReason] = [.unalignedAddress, .zeroPages, .wrapsAround, .badAttributes]
            return .rejected(RejectedConversion(time: t, gpa: g.next(), pageCount: g.next(), attributes: g.next(),
                                                reason: reasons[Int(g.next() % 4)], pid: i32(&g)))
        case 2: return .otherHypercall(time: t, number: g.next())
        case 3: return .counter(time: t, name: randomString(&g), value: g.next())
        case 4:
            let kinds: [GuestLayoutRange.Kind] = [.ram, .hole, .mmio, .firmware]
            let ranges = (0..<Int(g.next() % 4)).map { _ in
                GuestLayoutRange(pages: randomRange(&g), kind: kinds[Int(g.next() % 4)], name: randomString(&g))
            }
            return .layout(GuestLayout(time: t, ranges: ranges))
        case 5:
            let statuses = MigrationStatus.allCases
            return .migrationProgress(MigrationProgress(
                time: t, status: statuses[Int(g.next() % UInt64(statuses.count))], pass: Int(truncatingIfNeeded: g.next()),
                ramTransferredBytes: g.next(), ramRemainingBytes: g.next(), ramTotalBytes: g.next(),
                dirtyPagesPerSecond: randomDouble(&g), bandwidthBytesPerSecond: randomDouble(&g),
                downtimeSeconds: g.next() % 2 == 0 ? nil : randomDouble(&g),
                note: g.next() % 2 == 0 ? nil : randomString(&g),
                setupSeconds: g.next() % 2 == 0 ? nil : randomDouble(&g)))
        case 6:
            return .migrationPass(MigrationPassRecord(
                pass: Int(truncatingIfNeeded: g.next()), isStopAndCopy: g.next() % 2 == 0, startTime: randomDouble(&g), endTime: t,
                pagesSent: g.next(), sharedPagesSent: g.next(), pagesDirtied: g.next(), pagesResentForEncryption: g.next(),
                pagesChangedState: g.next(), resyncBitmapBytes: g.next(), resyncRangeListBytes: g.next()))
        case 7: return .marker(time: t, text: randomString(&g))
        default: return .lostEvents(time: t, count: g.next())
        }
    }

    @Test func everyEventRoundTrips() throws {
        var g = TraceFormatsRandom(state: 0x5eed)
        for _ in 0..<5000 {
            let e = Self.randomEvent(&g)
            let line = RecordingFormat.encode(e)
            #expect(!line.contains("\n") && !line.contains("\r"), "\(line)")
            let back = try RecordingFormat.decode(line)
            #expect(back == e, "\(line)")
        }
    }

    @Test func nanRoundTrips() throws {
        let e = MonitorEvent.marker(time: .nan, text: "x")
        let back = try RecordingFormat.decode(RecordingFormat.encode(e))
        #expect(back.time.isNaN)
    }

    @Test func readableEncoding() {
        let c = MonitorEvent.conversion(Conversion(time: 12.5, pages: PageRange(first: 0x7d4c2, count: 1), direction: .toShared,
                                                   vcpu: 2, pid: 40517, path: .hypercall))
        #expect(RecordingFormat.encode(c) == "conversion t=12.5 dir=shared gfn=0x7d4c2 pages=1 vcpu=2 pid=40517 path=hypercall")
        #expect(RecordingFormat.encode(.marker(time: 13, text: "phase: boot done")) == "marker t=13.0 text=phase%3A%20boot%20done")
        #expect(RecordingFormat.encode(.lostEvents(time: 14.25, count: 12)) == "lost t=14.25 count=12")
    }

    @Test func decodeToleratesOrderAndUnknownKeys() throws {
        let e = try RecordingFormat.decode("lost  count=3 future=1 t=2.5 ")
        #expect(e == .lostEvents(time: 2.5, count: 3))
    }

    @Test(arguments: [
        "lost t=2.5",
        "lost t=2.5 count=-1",
        "lost t=x count=1",
        "conversion t=1 dir=up gfn=0x1 pages=1 vcpu=0 pid=0 path=hypercall",
        "conversion t=1 dir=shared gfn=0x10000000000000 pages=1 vcpu=0 pid=0 path=hypercall",  // past 2^52
        "conversion t=1 dir=shared gfn=1 pages=1 vcpu=0 pid=0 path=hypercall",  // no 0x
        "marker t=1 text=%zz",
        "layout t=1 ranges=ram:0x0:1",
        "frobnicate t=1",
    ])
    func decodeErrors(line: String) {
        #expect(throws: RecordingFormat.DecodeError.self) { try RecordingFormat.decode(line) }
    }

    @Test func writerAndReaderRoundTrip() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("encmon-rec-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var g = TraceFormatsRandom(state: 42)
        let events = (0..<300).map { _ in Self.randomEvent(&g) }
        do {
            let w = try RecordingWriter(path: path, comment: "test recording\nsecond line")
            for e in events[..<150] { try w.write(e) }
            w.close()
        }
        // Appending continues the same recording.
        let w2 = try RecordingWriter(path: path)
        for e in events[150...] { try w2.write(e) }
        try w2.writeComment("done")
        #expect(w2.recordsWritten == 150)
        w2.close()

        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("encmon-recording 1\n# test recording\n# second line\n"))
        #expect(text.components(separatedBy: "encmon-recording").count == 2)

        for chunk in [7, 1 << 20] {
            let reader = try TraceReader(path: path, chunkSize: chunk)
            var back: [MonitorEvent] = []
            try reader.forEach { back.append($0) }
            #expect(back == events)
            #expect(reader.counters.malformed == 0)
            #expect(reader.counters.events == 300)
        }
    }

    @Test func truncatedLastRecordIsDroppedAndCounted() throws {
        let full = RecordingFormat.headerLine + "\n" + RecordingFormat.encode(.lostEvents(time: 1.5, count: 12)) + "\n"
        let cut = full + "lost t=2.5 count=1"  // the writer died inside "count=12\n"
        let (events, reader) = try T.readAll(cut)
        #expect(events == [.lostEvents(time: 1.5, count: 12)])
        #expect(reader.counters.malformed == 0)
        #expect(reader.counters.partialRecordBytes == UInt64("lost t=2.5 count=1".utf8.count))
        // A whole file has nothing partial.
        let (_, whole) = try T.readAll(full)
        #expect(whole.counters.partialRecordBytes == 0)
    }

    @Test func writerRefusesOtherFiles() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("encmon-notrec-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "hello\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: TraceFileError.notARecording(path: path)) { try RecordingWriter(path: path) }
        // truncate: starts a new recording.
        let w = try RecordingWriter(path: path, truncate: true)
        try w.write(.lostEvents(time: 1, count: 1))
        w.close()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "encmon-recording 1\nlost t=1.0 count=1\n")
    }

    @Test func writerOpenErrorNamesThePath() {
        do {
            _ = try RecordingWriter(path: "/nonexistent-dir/x.rec")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("/nonexistent-dir/x.rec"))
            #expect("\(error)".contains("No such file"))
        }
    }

    @Test func unsupportedVersionIsMalformed() throws {
        let (events, reader) = try T.readAll("encmon-recording 2\nlost t=1 count=1\n")
        #expect(events.isEmpty)
        #expect(reader.counters.malformed == 1)
        #expect(reader.counters.skipped == 1)  // not a recording: "lost ..." is just text
    }
}
