/// Passes a source's events through unchanged and appends each to an encmon recording, so that
/// `encmon replay` of the file reproduces the run (`--record FILE`).
///
/// Every poll's records are written before the events reach the model, so what the screen has
/// shown is in the file: a crash loses at most a partial last line, which readers drop and report.
/// When writing fails (full disk, quota, I/O error), recording stops, the events still flow, the
/// file keeps every whole record written before (the writer cuts a partial one off), and
/// `stopped` says why: the command reports it once.
public final class RecordingTap: EventSource {
    private let upstream: any EventSource
    private let writer: RecordingWriter
    /// Why recording stopped; nil while it runs.
    public private(set) var stopped: TraceFileError?

    public init(_ upstream: any EventSource, writer: RecordingWriter) {
        self.upstream = upstream
        self.writer = writer
    }

    public func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        let start = events.count
        let more = try upstream.poll(until: until, limit: limit, into: &events)
        guard stopped == nil else { return more }
        do {
            for e in events[start...] { try writer.write(e) }
            try writer.flush()
        } catch let error as TraceFileError {
            stopped = error
            writer.close()
        }
        return more
    }

    public func peekNextTime() throws -> EventTime? { try upstream.peekNextTime() }

    /// The upstream's status; once recording stopped, its position says so (on screen).
    public var status: SourceStatus {
        var s = upstream.status
        if stopped != nil { s.position += s.position.isEmpty ? "recording stopped" : ", recording stopped" }
        return s
    }

    public var clock: SourceClock { upstream.clock }

    public var recordsWritten: UInt64 { writer.recordsWritten }

    /// Writes the records still buffered (before the process exits). After a failure: nothing.
    public func flush() throws {
        guard stopped == nil else { return }
        do { try writer.flush() } catch let error as TraceFileError { stopped = error; writer.close() }
    }
}
