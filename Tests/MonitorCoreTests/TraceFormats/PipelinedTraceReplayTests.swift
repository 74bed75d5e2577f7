import Foundation
import Testing
@testable import MonitorCore

/// The two-thread batch replay: same events, order and counters as `TraceReader` read sequentially;
/// errors from either side end the replay without leaving its thread behind.
@Suite struct PipelinedTraceReplayTests {
    // MARK: inputs

    static func hypercall(_ k: Int) -> String {
        "       CPU \(k % 4)/KVM-4051\(k % 4)   [00\(k % 8)] d..1.  \(9000 + k / 1000).\(100_000 + k % 1000): kvm_hypercall: nr 0xc a0 0x\(String(0x10000 + k * 0x1000, radix: 16)) a1 0x1 a2 0x\(k % 2 == 0 ? "0" : "10") a3 0x0"
    }

    /// `count` lines mixing ftrace hypercalls, QEMU lines, recordings' neighbours: skipped lines,
    /// malformed lines, lost-event lines, blank lines, CRLF ends, no newline at the end.
    static func mixedLines(_ count: Int) -> [String] {
        (0..<count).map { k in
            let line: String
            switch k % 16 {
            case 1: line = "       CPU 1/KVM-40516   [003] d..1.  \(9000 + k / 1000).5: kvm_exit: vcpu 1 reason vmgexit rip 0x0"
            case 3: line = "# comment \(k)"
            case 5: line = "CPU:\(k % 8) [LOST \(k % 100) EVENTS]"
            case 7: line = ""
            case 9: line = "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0xzz a2 0x0 a3 0x0"
            case 11: line = "\(k)@\(9000 + k / 1000).25:kvm_hc_map_gpa_range gpa 0x\(String(k * 0x1000, radix: 16)) size 0x1000 attributes 0x10 flags 0x1"
            case 13: line = "\(k)@\(9000 + k / 1000).5:kvm_convert_memory start 0x\(String(k * 0x1000, radix: 16)) size 0x1000 shared_to_private"
            default: line = hypercall(k)
            }
            return k % 5 == 0 ? line + "\r" : line
        }
    }

    /// A temporary file holding `text`, removed when `body` returns.
    static func withFile<R>(_ text: String, _ body: (String) throws -> R) throws -> R {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("encmon-pipelined-\(UUID().uuidString).txt").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(path)
    }

    /// Sequential reading, the reference.
    static func sequential(_ path: String) throws -> ([MonitorEvent], TraceReader) {
        let reader = try TraceReader(path: path)
        var events: [MonitorEvent] = []
        while let e = try reader.next() { events.append(e) }
        return (events, reader)
    }

    /// Runs the pipelined replay, checking batch sizes and that progress matches what was delivered.
    static func pipelined(_ path: String, chunkSize: Int = TraceReader.defaultChunkSize, batchSize: Int,
                          queueDepth: Int = 4) throws -> ([MonitorEvent], [Int], TraceReplayResult) {
        var events: [MonitorEvent] = []
        var sizes: [Int] = []
        let progress = TraceReplayProgress()
        let result = try PipelinedTraceReplay.run(path: path, chunkSize: chunkSize, batchSize: batchSize,
                                                  queueDepth: queueDepth, progress: progress) { batch in
            events.append(contentsOf: batch)
            sizes.append(batch.count)
            #expect(progress.counters.events == UInt64(events.count))
            #expect(!progress.status.finished)
        }
        #expect(progress.counters == result.counters)
        #expect(progress.status.finished)
        return (events, sizes, result)
    }

    /// Replays `text` with each (chunk size, batch size, queue depth) and compares with sequential
    /// reading. Returns the sequential reader, for its counters.
    @discardableResult
    static func expectSameAsSequential(_ text: String, configurations: [(chunk: Int, batch: Int, depth: Int)],
                                       sourceLocation: SourceLocation = #_sourceLocation) throws -> TraceReader {
        try withFile(text) { path in
            let (reference, reader) = try sequential(path)
            for (chunk, batch, depth) in configurations {
                let (events, sizes, result) = try pipelined(path, chunkSize: chunk, batchSize: batch, queueDepth: depth)
                let label = Comment(rawValue: "chunk \(chunk), batch \(batch), depth \(depth)")
                #expect(events == reference, label, sourceLocation: sourceLocation)
                #expect(result.counters == reader.counters, label, sourceLocation: sourceLocation)
                #expect(result.malformedSamples == reader.malformedSamples, label, sourceLocation: sourceLocation)
                #expect(result.status.finished && result.status.name == reader.name, label, sourceLocation: sourceLocation)
                // Full batches, then one shorter non-empty one.
                #expect(sizes.dropLast().allSatisfy { $0 == batch }, label, sourceLocation: sourceLocation)
                #expect(sizes.allSatisfy { $0 > 0 && $0 <= batch }, label, sourceLocation: sourceLocation)
                #expect(sizes.count == (reference.count + batch - 1) / batch, label, sourceLocation: sourceLocation)
            }
            return reader
        }
    }

    static func expectSameAsSequential(_ text: String, batchSize: Int,
                                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expectSameAsSequential(text, configurations: [(TraceReader.defaultChunkSize, batchSize, 4)],
                                   sourceLocation: sourceLocation)
    }

    // MARK: same events as sequential reading

    @Test func emptyFile() throws {
        try Self.expectSameAsSequential("", batchSize: 16)
    }

    @Test func oneLine() throws {
        try Self.expectSameAsSequential(Self.hypercall(1), batchSize: 16)
        try Self.expectSameAsSequential(Self.hypercall(1) + "\n", batchSize: 16)
    }

    @Test func batchBoundaries() throws {
        let size = PipelinedTraceReplay.defaultBatchSize
        for (batch, count) in [(size, size), (size, size + 1), (64, 64), (64, 65), (64, 63), (1, 5)] {
            let text = (0..<count).map(Self.hypercall).joined(separator: "\n") + "\n"
            try Self.expectSameAsSequential(text, batchSize: batch)
        }
    }

    @Test func largeMixedInput() throws {
        let text = Self.mixedLines(200_000).joined(separator: "\n")
        let reader = try Self.expectSameAsSequential(text, configurations: [
            // Small chunks and batches with a one-batch queue: the parser often waits for the caller.
            (chunk: 4096, batch: 1000, depth: 1),
            (chunk: TraceReader.defaultChunkSize, batch: PipelinedTraceReplay.defaultBatchSize, depth: 4),
        ])
        let c = reader.counters
        #expect(c.malformed > 10_000 && c.skipped > 10_000 && c.lostEvents > 0)
        #expect(c.events > 100_000 && c.bytesRead == c.fileSize)
    }

    // MARK: errors

    struct Stop: Error, Equatable { var batch: Int }

    @Test func errorFromBodyStopsTheReplay() throws {
        let text = (0..<20_000).map(Self.hypercall).joined(separator: "\n")
        try Self.withFile(text) { path in
            // At the first batch (the parser blocked on a full queue), in the middle, at the last.
            for stopAt in [1, 3, 200] {
                var calls = 0
                #expect(throws: Stop(batch: stopAt)) {
                    _ = try PipelinedTraceReplay.run(path: path, batchSize: 100, queueDepth: 1) { _ in
                        calls += 1
                        if calls == stopAt { throw Stop(batch: calls) }
                    }
                }
                #expect(calls == stopAt)
            }
        }
    }

    /// `runBatches` (record batches, reused): the sequential events with conversions stripped of
    /// pid and vCPU, the same counters, with and without `referenceParsing`; a body error stops it.
    @Test func recordBatchesMatchSequentialReading() throws {
        let text = Self.mixedLines(30_000).joined(separator: "\n")
        try Self.withFile(text) { path in
            let (reference, reader) = try Self.sequential(path)
            let stripped = reference.map { e -> MonitorEvent in
                guard case .conversion(var c) = e else { return e }
                c.pid = -1; c.vcpu = -1
                return .conversion(c)
            }
            for (batchSize, referenceParsing) in [(1, false), (97, true), (4096, false), (1 << 20, false)] {
                var events: [MonitorEvent] = []
                let result = try PipelinedTraceReplay.runBatches(path: path, chunkSize: 1000, batchSize: batchSize, queueDepth: 2,
                                                                 referenceParsing: referenceParsing) { batch in
                    #expect(batch.count <= batchSize && !batch.isEmpty)
                    events += batch.events
                }
                #expect(events == stripped, "batch \(batchSize)")
                #expect(result.counters == reader.counters)
                #expect(result.malformedSamples == reader.malformedSamples)
            }
            var calls = 0
            #expect(throws: Stop(batch: 3)) {
                _ = try PipelinedTraceReplay.runBatches(path: path, batchSize: 100, queueDepth: 1) { _ in
                    calls += 1
                    if calls == 3 { throw Stop(batch: calls) }
                }
            }
            #expect(calls == 3)
        }
    }

    @Test func missingFileThrowsBeforeReading() throws {
        let path = "/nonexistent-encmon-dir/trace.txt"
        var called = false
        #expect(throws: TraceFileError.cannotOpen(path: path, errno: ENOENT)) {
            _ = try PipelinedTraceReplay.run(path: path) { _ in called = true }
        }
        #expect(!called)
        let error = try #require(throws: TraceFileError.self) { _ = try PipelinedTraceReplay.run(path: path) { _ in } }
        #expect(error.description.contains(path))
    }

    @Test func readErrorIsRethrownOnTheCallersThread() throws {
        // A directory opens but does not read (EISDIR): the error arises on the parsing thread.
        let dir = FileManager.default.temporaryDirectory.path
        #expect(throws: TraceFileError.cannotRead(path: dir, errno: EISDIR)) {
            _ = try PipelinedTraceReplay.run(path: dir) { _ in }
        }
    }
}
