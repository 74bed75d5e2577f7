import MonitorCore

/// A trace.dat file as a replay source: read whole at open (libtracecmd merges the buffers in
/// time order), then handed out by event time like any replay.
public final class TraceDatReplaySource: EventSource {
    private var events: [MonitorEvent] = []
    private var next = 0
    public let summary: TraceDatSummary
    private let name: String
    /// Records that were not a decoded event (other events, other GHCB requests).
    private let skipped: UInt64

    public convenience init(path: String) throws(TraceDatError) {
        var collected: [MonitorEvent] = []
        let summary = try TraceDatFile.readEvents(path: path) { collected.append($0) }
        self.init(name: path, events: collected, summary: summary)
    }

    /// Events and summary that were read elsewhere (`encmon replay` reads the file in a child
    /// process, so that libtracecmd crashing on a hostile file cannot take encmon down).
    public init(name: String, events collected: [MonitorEvent], summary: TraceDatSummary) {
        self.summary = summary
        events = collected
        self.name = name
        let decoded = UInt64(collected.reduce(0) { if case .lostEvents = $1 { $0 } else { $0 + 1 } })
        let used = decoded + summary.malformed
        skipped = summary.records > used ? summary.records - used : 0
    }

    public func poll(until: EventTime?, limit: Int, into out: inout [MonitorEvent]) throws -> Bool {
        var n = 0
        while next < events.count, n < limit {
            let e = events[next]
            if let until, e.time > until { break }
            out.append(e)
            next += 1
            n += 1
        }
        return next < events.count
    }

    public func peekNextTime() throws -> EventTime? { next < events.count ? events[next].time : nil }

    /// Events decoded from the file (lost-event markers included).
    public var eventCount: Int { events.count }

    public var status: SourceStatus {
        SourceStatus(kind: .replay, name: name,
                     position: "event \(next) of \(events.count) (trace.dat)",
                     lines: summary.records, skippedLines: skipped,
                     // Lost events are in the stream as `.lostEvents`; counting them here too would double them.
                     malformedLines: summary.malformed,
                     progress: events.isEmpty ? 1 : Double(next) / Double(events.count),
                     finished: next >= events.count)
    }
}
