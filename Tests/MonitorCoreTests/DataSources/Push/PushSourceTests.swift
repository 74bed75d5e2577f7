import Foundation
import Synchronization
import Testing
@testable import MonitorCore

/// The push-source primitive: bounded channel, cancellation, a producer thread that a quit never
/// waits for, and the merge of several sources onto one clock.
@Suite(.timeLimit(.minutes(1))) struct PushSourceTests {
    static func marker(_ t: EventTime, _ text: String = "") -> MonitorEvent { .marker(time: t, text: text) }

    // MARK: channel

    @Test func fullChannelDropsAndCounts() {
        let channel = EventChannel(capacity: 3)
        let accepted = (0..<5).map { channel.send(Self.marker(Double($0))) }
        #expect(accepted == [true, true, true, false, false])
        #expect(channel.droppedEvents == 2)
        var out: [MonitorEvent] = []
        #expect(channel.drain(into: &out, limit: 10) == 3)
        #expect(out.map(\.time) == [0, 1, 2])
        // Room again: the next send is kept, the count stays.
        #expect(channel.send(Self.marker(9)))
        #expect(channel.droppedEvents == 2)
    }

    @Test func drainNeverBlocksAndKeepsOrder() {
        let channel = EventChannel(capacity: 100)
        var out: [MonitorEvent] = []
        // Empty and unfinished: returns at once with nothing (a blocking drain would hang the suite).
        #expect(channel.drain(into: &out, limit: 10) == 0)
        #expect(!channel.isDrained)
        for k in 0..<10 { channel.send(Self.marker(Double(k))) }
        #expect(channel.drain(into: &out, limit: 4) == 4)
        #expect(channel.drain(into: &out, limit: 0) == 0)
        #expect(channel.drain(into: &out, limit: 100) == 6)
        #expect(out.map(\.time) == (0..<10).map(Double.init))
        channel.finish(error: nil)
        #expect(channel.isDrained)
        #expect(!channel.send(Self.marker(99)))
    }

    @Test func producerThreadAndConsumerInterleave() throws {
        // A producer far faster than the consumer: what arrives is in order, and arrived + dropped = sent.
        let source = try PushEventSource(status: SourceStatus(kind: .live, name: "burst"), clock: .monotonic, capacity: 64) { ctx in
            for k in 0..<20_000 { ctx.emit(Self.marker(Double(k))) }
        }
        try source.start()
        var out: [MonitorEvent] = []
        while try source.poll(until: nil, limit: 50, into: &out) {}
        let times = out.map(\.time)
        #expect(times == times.sorted())
        #expect(UInt64(out.count) + source.status.overflowedEvents == 20_000)
        #expect(source.status.finished)
        source.stop()
    }

    // MARK: cancellation

    /// A pipe that nobody writes: a read on it blocks for ever.
    static func silentPipe() -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0)
        return (fds[0], fds[1])
    }

    @Test func stopReturnsWhileTheProducerWaitsOnAnEmptyPipe() throws {
        let (r, w) = Self.silentPipe()
        defer { close(r); close(w) }
        let outcome = Mutex<Readiness?>(nil)
        let waiting = DispatchSemaphore(value: 0)
        let source = try PushEventSource(status: SourceStatus(kind: .live, name: "pipe"), clock: .monotonic) { ctx in
            ctx.emit(Self.marker(SourceClock.monotonicNow(), "before"))
            waiting.signal()
            while true {
                let readiness = try waitForReadable(r, or: ctx.cancellation)
                if readiness == .interrupted { continue }
                outcome.withLock { $0 = readiness }
                return
            }
        }
        try source.start()
        waiting.wait()
        usleep(20_000)  // let the thread settle into poll(2)
        #expect(outcome.withLock { $0 } == nil)
        source.stop()  // hangs (and the time limit fails the suite) if stop waited on the read
        #expect(outcome.withLock { $0 } == .cancelled)
        var out: [MonitorEvent] = []
        #expect(try source.poll(until: nil, limit: 10, into: &out) == false)
        #expect(out.count == 1)
        #expect(source.status.finished)
    }

    @Test func waitForReadableSeesDataAndTimeout() throws {
        let (r, w) = Self.silentPipe()
        defer { close(r); close(w) }
        let signal = try CancellationSignal()
        #expect(try waitForReadable(r, or: signal, timeoutMilliseconds: 0) == .timedOut)
        var byte: UInt8 = 7
        #expect(write(w, &byte, 1) == 1)
        #expect(try waitForReadable(r, or: signal, timeoutMilliseconds: 0) == .readable)
        signal.cancel()
        signal.cancel()
        #expect(signal.isCancelled)
        #expect(try waitForReadable(r, or: signal, timeoutMilliseconds: 0) == .cancelled)
    }

    struct BodyFailed: Error, Equatable {}

    @Test func bodyErrorIsThrownOnceAfterItsEvents() throws {
        let source = try PushEventSource(status: SourceStatus(kind: .live, name: "failing"), clock: .monotonic) { ctx in
            ctx.emit(Self.marker(1))
            ctx.updateStatus { $0.droppedEvents = 5 }
            throw BodyFailed()
        }
        try source.start()
        source.stop()
        var out: [MonitorEvent] = []
        #expect(throws: BodyFailed()) { _ = try source.poll(until: nil, limit: 10, into: &out) }
        #expect(out.count == 1)
        #expect(try source.poll(until: nil, limit: 10, into: &out) == false)
        #expect(source.status.droppedEvents == 5 && source.status.overflowedEvents == 0)
        #expect(throws: PushSourceError.alreadyStarted) { try source.start() }
    }

    @Test func pollHoldsBackEventsAfterUntil() throws {
        let source = try PushEventSource(status: SourceStatus(kind: .live, name: "paced"), clock: .monotonic) { ctx in
            for t in [1.0, 2, 3, 4] { ctx.emit(Self.marker(t)) }
        }
        try source.start()
        source.stop()
        var out: [MonitorEvent] = []
        #expect(try source.poll(until: 2.5, limit: 10, into: &out))
        #expect(out.map(\.time) == [1, 2])
        #expect(try source.peekNextTime() == 3)
        #expect(try source.poll(until: nil, limit: 10, into: &out) == false)
        #expect(out.map(\.time) == [1, 2, 3, 4])
    }

    @Test func nonFiniteTimesAreRefusedAndCounted() throws {
        let source = try PushEventSource(status: SourceStatus(kind: .live, name: "odd"), clock: .monotonic) { ctx in
            for t in [1.0, .infinity, .nan, -.infinity, 2] { ctx.emit(Self.marker(t)) }
        }
        try source.start()
        source.stop()
        var out: [MonitorEvent] = []
        _ = try source.poll(until: nil, limit: 10, into: &out)
        #expect(out.map(\.time) == [1, 2])
        #expect(source.status.rejectedTimes == 3)
    }

    // MARK: merge

    /// A finite source of given times on a given clock.
    final class ListSource: EventSource {
        var events: [MonitorEvent]
        let clock: SourceClock
        init(_ times: [EventTime], clock: SourceClock, tag: String) {
            events = times.map { PushSourceTests.marker($0, tag) }
            self.clock = clock
        }
        func poll(until: EventTime?, limit: Int, into out: inout [MonitorEvent]) throws -> Bool {
            // Hands out at most two at a time, so the merge must come back for more.
            let n = min(limit, 2, events.count)
            out.append(contentsOf: events.prefix(n))
            events.removeFirst(n)
            return !events.isEmpty
        }
        func peekNextTime() throws -> EventTime? { events.first?.time }
        var status: SourceStatus { SourceStatus(kind: .live, name: "list", lines: UInt64(events.count), finished: events.isEmpty) }
    }

    static func tags(_ events: [MonitorEvent]) -> [String] {
        events.map { if case .marker(_, let text) = $0 { text } else { "?" } }
    }

    @Test func mergeDeliversInTimeOrder() throws {
        let a = ListSource([1, 4, 5, 9], clock: .monotonic, tag: "a")
        let b = ListSource([2, 3, 5, 6, 7, 10], clock: .monotonic, tag: "b")
        let merged = MergedEventSource([a, b])
        var out: [MonitorEvent] = []
        while try merged.poll(until: nil, limit: 3, into: &out) {}
        #expect(out.map(\.time) == [1, 2, 3, 4, 5, 5, 6, 7, 9, 10])
        // Ties: the earlier source first.
        #expect(Self.tags(out) == ["a", "b", "b", "a", "a", "b", "b", "b", "a", "b"])
        #expect(merged.status.finished)
    }

    @Test func mergeHonoursUntil() throws {
        let merged = MergedEventSource([ListSource([1, 3], clock: .monotonic, tag: "a"),
                                        ListSource([2, 4], clock: .monotonic, tag: "b")])
        var out: [MonitorEvent] = []
        #expect(try merged.poll(until: 2.5, limit: 10, into: &out))
        #expect(out.map(\.time) == [1, 2])
        #expect(try merged.peekNextTime() == 3)
    }

    @Test func mixedClocksShareOneNow() throws {
        // A wall-clock source (QMP) and a trace-clock one beside a monotonic one: all land within
        // moments of the monotonic readings, never decades away.
        let mono = SourceClock.monotonicNow()
        let wall = Date().timeIntervalSince1970
        let merged = MergedEventSource([
            ListSource([mono], clock: .monotonic, tag: "mono"),
            ListSource([wall, wall + 1], clock: .wall, tag: "wall"),
            ListSource([9000.5, 9001.5], clock: .trace, tag: "trace"),
        ])
        var out: [MonitorEvent] = []
        while try merged.poll(until: nil, limit: 10, into: &out) {}
        #expect(out.count == 5)
        for e in out { #expect(abs(e.time - mono) < 3600, "\(e)") }
        let wallTimes = out.filter { Self.tags([$0]) == ["wall"] }.map(\.time)
        let traceTimes = out.filter { Self.tags([$0]) == ["trace"] }.map(\.time)
        // Spacing kept.
        #expect(abs(wallTimes[1] - wallTimes[0] - 1) < 1e-6)
        #expect(abs(traceTimes[1] - traceTimes[0] - 1) < 1e-6)
    }
}
