/// Passes a source's events through unchanged and appends each to an encmon recording, so that
/// `encmon replay` of the file reproduces the run (`--record FILE`).
public final class RecordingTap: EventSource {
    private let upstream: any EventSource
    private let writer: RecordingWriter

    public init(_ upstream: any EventSource, writer: RecordingWriter) {
        self.upstream = upstream
        self.writer = writer
    }

    public func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        let start = events.count
        let more = try upstream.poll(until: until, limit: limit, into: &events)
        for e in events[start...] { try writer.write(e) }
        // Idle sources still get their last records written within the writer's interval.
        try writer.flushIfDue()
        if !more { try writer.flush() }
        return more
    }

    public func peekNextTime() throws -> EventTime? { try upstream.peekNextTime() }

    public var status: SourceStatus { upstream.status }

    public var clock: SourceClock { upstream.clock }

    public var recordsWritten: UInt64 { writer.recordsWritten }

    /// Writes the records still buffered (before the process exits).
    public func flush() throws { try writer.flush() }
}
