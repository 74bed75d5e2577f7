@testable import encmon
import MonitorCore
import Testing

/// `TraceDatStreamSource` decodes the decoder child's output as it comes. Fed the real child's
/// output for the stand-in trace.dat in chunks of every size, it must hand out exactly the events
/// of the whole output, and an end that went wrong (crash, refusal, nonsense) must come after
/// every complete record before it.
@Suite struct TraceDatStreamSourceTests {
    static let goodFile = Built.repositoryRoot + "/Fuzz/Seeds/FuzzTraceDat/standin-2cpu-v6.dat"

    /// What the real decoder child writes for the stand-in file.
    static func childOutput() throws -> [UInt8] {
        let r = try run(Built.encmon, ["decode-trace-dat", goodFile])
        #expect(r.status == 0, "\(r.stderr)")
        return Array(r.stdout.utf8)
    }

    /// The output cut into chunks of `size` bytes, and a child that ended as `ending` says.
    static func source(_ bytes: [UInt8], chunk size: Int, ending: DecoderChild.Ending = .init(stderr: "", status: 0, signal: 0))
        -> TraceDatStreamSource {
        var offset = 0
        return TraceDatStreamSource(name: "t.dat", nextChunk: {
            guard offset < bytes.count else { return nil }
            let end = min(bytes.count, offset + size)
            defer { offset = end }
            return bytes[offset..<end]
        }, ending: { ending })
    }

    /// Everything `poll` hands out, a few events at a time, and what it threw at the end.
    static func drain(_ source: TraceDatStreamSource) -> ([MonitorEvent], (any Error)?) {
        var events: [MonitorEvent] = []
        do {
            while try source.poll(until: nil, limit: 3, into: &events) {}
        } catch {
            return (events, error)
        }
        return (events, nil)
    }

    /// The reference: the whole output split into lines, each a record (the summary line aside).
    static func reference(_ bytes: [UInt8]) throws -> [MonitorEvent] {
        try String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .filter { !$0.hasPrefix(IsolatedTraceDat.summaryPrefix) }
            .map { try RecordingFormat.decode(String($0)) }
    }

    @Test func everyChunkSizeGivesTheEventsOfTheWholeOutput() throws {
        let bytes = try Self.childOutput()
        let expected = try Self.reference(bytes)
        #expect(expected.count == 16)
        for size in [1, 2, 3, 7, 64, 100, 4096, bytes.count] {
            let source = Self.source(bytes, chunk: size)
            #expect(try source.peekNextTime() == expected.first?.time)
            let (events, error) = Self.drain(source)
            #expect(error == nil, "chunks of \(size): \(String(describing: error))")
            #expect("\(events)" == "\(expected)", "chunks of \(size)")
            #expect(source.summary?.records == 16 && source.delivered == 16)
            #expect(source.status.finished && source.status.lines == 16)
        }
    }

    @Test func aCrashComesAfterEveryCompleteRecordBeforeIt() throws {
        let bytes = try Self.childOutput()
        let expected = try Self.reference(bytes)
        // The child died in the middle of its sixth line: five records reached the parent whole.
        var cut = 0, lines = 0
        while lines < 5 { if bytes[cut] == 10 { lines += 1 }; cut += 1 }
        let source = Self.source(Array(bytes[..<(cut + 9)]), chunk: 50, ending: .init(stderr: "", status: 0, signal: 11))
        let (events, error) = Self.drain(source)
        #expect("\(events)" == "\(Array(expected.prefix(5)))")
        guard case .crashed(let path, let signal, let before)? = error as? IsolatedTraceDat.Failure else {
            Issue.record("expected a crash, got \(String(describing: error))")
            return
        }
        #expect(path == "t.dat" && signal == 11 && before == 5)
        #expect("\(error!)".contains("only its first 5 events were replayed"))
    }

    @Test func aRefusalSaysTheChildsLastLine() throws {
        let source = Self.source([], chunk: 10, ending: .init(stderr: "warning\nencmon: t.dat: not a trace.dat\n", status: 65, signal: 0))
        let (events, error) = Self.drain(source)
        #expect(events.isEmpty)
        guard case .refused(let message, let code)? = error as? IsolatedTraceDat.Failure else {
            Issue.record("expected a refusal, got \(String(describing: error))")
            return
        }
        #expect(message == "t.dat: not a trace.dat" && code == 65)
    }

    @Test func nonsenseOrAMissingSummaryIsTheChildsFailure() throws {
        let bytes = try Self.childOutput()
        let withoutSummary = Array(String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .filter { !$0.hasPrefix(IsolatedTraceDat.summaryPrefix) }.joined(separator: "\n").utf8)
        let (events, error) = Self.drain(Self.source(withoutSummary, chunk: 33))
        #expect(events.count == 16)
        guard case .childFailed(_, let reason)? = error as? IsolatedTraceDat.Failure else {
            Issue.record("expected a failure, got \(String(describing: error))")
            return
        }
        #expect(reason == "the decoder child ended without its summary")

        let (_, bad) = Self.drain(Self.source(Array("not a record\n".utf8) + bytes, chunk: 5))
        guard case .childFailed(_, let why)? = bad as? IsolatedTraceDat.Failure else {
            Issue.record("expected a failure, got \(String(describing: bad))")
            return
        }
        #expect(why.hasPrefix("bad record from the decoder child"))
    }
}
