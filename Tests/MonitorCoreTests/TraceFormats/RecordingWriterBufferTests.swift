import Foundation
import Testing
@testable import MonitorCore

/// The recording writer holds records back (no write per event) and writes them on a full
/// buffer, on its interval, on flush and on close.
@Suite struct RecordingWriterBufferTests {
    static func withPath(_ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("encmon-buf-\(UUID().uuidString).rec").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    static func records(_ path: String) throws -> Int {
        let reader = try TraceReader(path: path)
        var n = 0
        try reader.forEach { _ in n += 1 }
        return n
    }

    static func marker(_ k: Int) -> MonitorEvent { .marker(time: Double(k), text: "event \(k)") }

    @Test func recordsWaitForTheIntervalOrAFlush() throws {
        try Self.withPath { path in
            let w = try RecordingWriter(path: path, flushInterval: 3_600)
            for k in 0..<100 { try w.write(Self.marker(k)) }
            #expect(try Self.records(path) == 0)
            try w.flushIfDue()
            #expect(try Self.records(path) == 0)
            try w.flush()
            #expect(try Self.records(path) == 100)
            try w.write(Self.marker(100))
            w.close()
            #expect(try Self.records(path) == 101)
            #expect(throws: TraceFileError.self) { try w.write(Self.marker(102)) }
        }
    }

    @Test func aFullBufferIsWritten() throws {
        try Self.withPath { path in
            let w = try RecordingWriter(path: path, flushInterval: 3_600)
            var k = 0
            while k < 100_000 {
                try w.write(Self.marker(k))
                k += 1
                if k % 250 == 0, try Self.records(path) > 0 { break }
            }
            // Written once about `bufferBytes` had collected, not per record.
            #expect(k > 1_000 && k < 100_000)
            w.close()
        }
    }

    @Test func aDueIntervalWritesOnTheNextPoll() throws {
        try Self.withPath { path in
            let w = try RecordingWriter(path: path, flushInterval: 0)
            let tap = RecordingTap(ListSource([Self.marker(1), Self.marker(2)]), writer: w)
            var out: [MonitorEvent] = []
            _ = try tap.poll(until: nil, limit: 1, into: &out)
            #expect(try Self.records(path) == 1)
            _ = try tap.poll(until: nil, limit: 1, into: &out)
            #expect(try Self.records(path) == 2)
        }
    }

    final class ListSource: EventSource {
        var events: [MonitorEvent]
        init(_ events: [MonitorEvent]) { self.events = events }
        func poll(until: EventTime?, limit: Int, into out: inout [MonitorEvent]) throws -> Bool {
            let n = min(limit, events.count)
            out.append(contentsOf: events.prefix(n))
            events.removeFirst(n)
            return true
        }
        func peekNextTime() throws -> EventTime? { events.first?.time }
        var status: SourceStatus { SourceStatus(kind: .demo, name: "list") }
    }
}
