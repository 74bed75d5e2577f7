/// Replays a trace file or an encmon recording (any format `TraceLineParser` reads, detected per
/// line) as an event source. Events come out in file order; `poll` holds back the first event
/// later than `until` (one event of lookahead), so a replay clock can pace them.
///
/// Reading a pipe (`-` = stdin) blocks in `read(2)` until data or end of input arrives.
public final class TraceReplaySource: EventSource {
    public let reader: TraceReader
    private var lookahead: MonitorEvent?
    private var exhausted = false

    /// Opens `path` (`-` = standard input). Throws `TraceReplayError` naming the path and the
    /// system's reason.
    public init(path: String, chunkSize: Int = TraceReader.defaultChunkSize, standInEvent: TraceEventName? = nil) throws {
        reader = try TraceReader(path: path, chunkSize: chunkSize, standInEvent: standInEvent)
    }

    /// Replays bytes in memory (tests).
    public init(bytes: [UInt8], name: String = "memory", chunkSize: Int = TraceReader.defaultChunkSize) {
        reader = TraceReader(bytes: bytes, name: name, chunkSize: chunkSize)
    }

    public func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        var delivered = 0
        while delivered < limit {
            guard let e = try peek() else { return !exhausted }
            if let until, e.time > until { return true }
            events.append(e)
            lookahead = nil
            delivered += 1
        }
        return try peek() != nil
    }

    public func peekNextTime() throws -> EventTime? {
        try peek()?.time
    }

    private func peek() throws -> MonitorEvent? {
        if let e = lookahead { return e }
        if exhausted { return nil }
        lookahead = try reader.next()
        // A followed file at its end has nothing yet, but is not finished.
        if lookahead == nil && reader.isFinished { exhausted = true }
        return lookahead
    }

    /// The first malformed lines (line number, reason, start of the text), for stderr.
    public var malformedSamples: [MalformedLine] { reader.malformedSamples }
    public var skippedLines: UInt64 { reader.counters.skipped }
    public var counters: TraceReadCounters { reader.counters }

    /// A replay keeps the trace's own clock (boot, mono, counter or wall, as the trace was taken).
    public var clock: SourceClock { .trace }

    public var status: SourceStatus {
        .replay(name: reader.name, counters: reader.counters, finished: exhausted && lookahead == nil)
    }
}
