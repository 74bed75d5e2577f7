import Foundation
import Testing
@testable import MonitorCore

/// Helpers shared by the trace-format tests.
enum TraceFormatsTestSupport {
    static func parse(_ lines: [String]) -> [TraceLineOutcome] {
        var p = TraceLineParser()
        return lines.map { p.parse($0) }
    }

    static func parseOne(_ line: String) -> TraceLineOutcome {
        var p = TraceLineParser()
        return p.parse(line)
    }

    static func conversion(_ o: TraceLineOutcome) -> Conversion? {
        if case .event(.conversion(let c)) = o { return c }
        return nil
    }

    static func isMalformed(_ o: TraceLineOutcome) -> Bool {
        if case .malformed = o { return true }
        return false
    }

    static func fixtureURL(_ name: String) throws -> URL {
        let dot = name.lastIndex(of: ".")!
        let url = Bundle.module.url(forResource: String(name[..<dot]), withExtension: String(name[name.index(after: dot)...]),
                                    subdirectory: "Fixtures")
        return try #require(url, "fixture \(name) missing from the test bundle")
    }

    /// Every event of a fixture, and the reader for its counters.
    static func readFixture(_ name: String, chunkSize: Int = TraceReader.defaultChunkSize) throws -> ([MonitorEvent], TraceReader) {
        let reader = try TraceReader(path: fixtureURL(name).path, chunkSize: chunkSize)
        var events: [MonitorEvent] = []
        try reader.forEach { events.append($0) }
        return (events, reader)
    }

    static func readAll(_ text: String, chunkSize: Int = TraceReader.defaultChunkSize,
                        maxLineLength: Int = TraceReader.defaultMaxLineLength) throws -> ([MonitorEvent], TraceReader) {
        let reader = TraceReader(bytes: Array(text.utf8), chunkSize: chunkSize, maxLineLength: maxLineLength)
        var events: [MonitorEvent] = []
        while let e = try reader.next() { events.append(e) }
        return (events, reader)
    }
}
