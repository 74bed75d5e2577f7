/// Where a source is, as values the view and the CLI format.
public enum SourcePosition: Sendable, Hashable {
    case unknown
    /// Lines read so far (text sources); `SourceStatus.progress` has the fraction of the file.
    case line(UInt64)
    /// The phase a scenario is in (demo), as the scenario names it.
    case phase(String)
}

/// What a source says about itself for the header and the batch summary: numbers and enums;
/// the view and the CLI word them.
public struct SourceStatus: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case replay, demo, live, daemon }
    public var kind: Kind
    /// File name, scenario name, or "VM 3 (name, pid 1234)".
    public var name: String
    /// Where the source is, structured; the header formats it.
    public var location: SourcePosition = .unknown
    /// Free text for a source without a `location` ("VM paused"); replays and the demo also
    /// fill it with their location's standard wording for plain-text callers.
    public var position: String
    /// Lines read (text sources), events produced otherwise.
    public var lines: UInt64
    public var skippedLines: UInt64
    public var malformedLines: UInt64
    /// Events the source lost (ring buffer overruns, dropped records).
    public var droppedEvents: UInt64
    /// Events encmon dropped because the model side fell behind a push source (channel full).
    public var overflowedEvents: UInt64 = 0
    /// Events refused because their time was not a usable time (not finite, or off the clock).
    public var rejectedTimes: UInt64 = 0
    /// Bytes of a cut-off last record dropped (a recording written by a process that died).
    public var partialRecordBytes: UInt64 = 0
    /// 0...1 where known (bytes read / file size), else nil.
    public var progress: Double?
    /// True once a finite source has delivered everything.
    public var finished: Bool
    /// What the header shows instead of "live" or "finished" when the source knows better
    /// ("VM exited"); nil otherwise.
    public var state: String? = nil
    /// The source has followed the guest since it started (a daemon that saw the VM start), so no
    /// earlier state is unknown and the header does not say "earlier state unknown".
    public var sawGuestStart = false
    /// Which guest a re-attaching live source follows, counted from 0: a change means the events
    /// now come from a new guest, so the session starts a fresh model.
    public var attachment = 0
    /// False when event times are not seconds (a trace under a counter clock, or without a time
    /// column): rates are then per an unknown unit and say so.
    public var timeInSeconds = true

    public init(kind: Kind, name: String, position: String = "", lines: UInt64 = 0, skippedLines: UInt64 = 0,
                malformedLines: UInt64 = 0, droppedEvents: UInt64 = 0, progress: Double? = nil, finished: Bool = false) {
        self.kind = kind; self.name = name; self.position = position; self.lines = lines
        self.skippedLines = skippedLines; self.malformedLines = malformedLines
        self.droppedEvents = droppedEvents; self.progress = progress; self.finished = finished
    }
}

/// A polled producer of events: trace replay, simulator, live kernel, daemon.
///
/// Sources are driven from the app loop on one thread; they never block for long and never draw.
public protocol EventSource: AnyObject {
    /// Appends to `events`, in time order, the events whose time is at most `until` (all that are
    /// ready when `until` is nil), stopping after `limit` events. Returns false once the source
    /// is exhausted and nothing more will come.
    func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool

    /// The time of the next event that `poll` would deliver, when it is known without waiting
    /// (replays, simulator). Lets a replay clock start at the trace's first timestamp.
    func peekNextTime() throws -> EventTime?

    var status: SourceStatus { get }

    /// The clock of the times `poll` delivers.
    var clock: SourceClock { get }
}

extension EventSource {
    /// Sources that do not say deliver their input's own time (replays).
    public var clock: SourceClock { .trace }
}
