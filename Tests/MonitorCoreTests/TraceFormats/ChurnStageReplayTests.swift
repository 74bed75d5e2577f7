import Foundation
import Testing
@testable import MonitorCore

/// The batch replay with the churn tracker running ahead on the parsing thread (`ChurnStage`)
/// leaves the model exactly as applying the same events one by one does: every part of the
/// encoded model, the churn table, flip counts, pool what-if and the rate history included.
@Suite struct ChurnStageReplayTests {
    /// Buffers flipping at random (flips within the churn window and slower ones), mixed with
    /// other lines (`mixed`: every 31st line, so runs of conversions stay short; without them a
    /// batch is one run, longer than the recent-change ring), and a few conversions whose times
    /// the model refuses (beyond `timeLimit`).
    static func flipLines(_ count: Int, seed: UInt64, mixed: Bool = true) -> [String] {
        var rng = SplitMix64(seed: seed)
        var micros: UInt64 = 9_051_000_000
        return (0..<count).map { k in
            micros += rng.next() % (k % 500 < 250 ? 40 : 4_000_000)
            let buffer = rng.next() % 60
            let pages = [1, 2, 8, 16][Int(buffer % 4)]
            let toPrivate = rng.next() % 2 == 0
            let stamp = k % 997 == 0 ? "3000000000000000000.000000" : "\(micros / 1_000_000).\(String(format: "%06d", micros % 1_000_000))"
            if mixed && k % 31 == 0 { return PipelinedTraceReplayTests.mixedLines(32)[k % 32] }
            return "   qemu-system-x86-4051\(buffer % 8) [00\(buffer % 8)] d..1. \(stamp): kvm_hypercall: nr 0xc "
                + "a0 0x\(String((0x100 + buffer * 0x40) << 12, radix: 16)) a1 0x\(String(pages, radix: 16)) a2 0x\(toPrivate ? "10" : "0") a3 0x0"
        }
    }

    static func encoded(_ m: Monitor) throws -> String {
        let e = ModelStateCodingTests.encoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(m), as: UTF8.self)
    }

    @Test(arguments: [(1, UInt64(1), true), (97, 2, true), (4096, 3, true), (1 << 20, 4, true), (3000, 5, false), (1 << 20, 6, false)])
    func stageReplayEqualsSequentialApply(batchSize: Int, seed: UInt64, mixed: Bool) throws {
        let text = Self.flipLines(20_000, seed: seed, mixed: mixed).joined(separator: "\n")
        try PipelinedTraceReplayTests.withFile(text) { path in
            var reference = Monitor()
            let (events, _) = try PipelinedTraceReplayTests.sequential(path)
            reference.apply(events)
            #expect(reference.churn.totalFlips > 100, "the trace must flip buffers")
            #expect(reference.totals.rejectedTimes > 0, "the trace must have refused times")

            var staged = Monitor()
            var batches = 0
            _ = try PipelinedTraceReplay.replay(path: path, into: &staged, chunkSize: 1000, batchSize: batchSize, queueDepth: 2) { m in
                batches += 1
                // While the stage holds the tracker, the model's own stays empty.
                #expect(m.churn.trackedBuffers == 0)
            }
            #expect(batches >= 1)
            #expect(try Self.encoded(staged) == Self.encoded(reference))
            #expect(staged.churn.totalFlips == reference.churn.totalFlips)
        }
    }

    /// The tracker comes back when the replay ends early, with what the stage observed.
    @Test func trackerComesBackWhenTheReplayThrows() throws {
        struct Stop: Error {}
        let text = Self.flipLines(5_000, seed: 9).joined(separator: "\n")
        try PipelinedTraceReplayTests.withFile(text) { path in
            var m = Monitor()
            var calls = 0
            #expect(throws: Stop.self) {
                _ = try PipelinedTraceReplay.replay(path: path, into: &m, batchSize: 500, queueDepth: 1) { _ in
                    calls += 1
                    if calls == 3 { throw Stop() }
                }
            }
            #expect(m.churn.trackedBuffers > 0)
            #expect(m.churn.totalFlips > 0)
        }
    }
}
