import MonitorCore

/// Moves events from a source into the monitor in bounded slices, so that a huge trace never
/// stalls a frame: each call stops after `maxEvents` events or `maxSeconds` of work and the
/// rest is picked up by the next call.
struct EventPump {
    /// True once the source said nothing more will come.
    private(set) var exhausted = false
    private var buffer: [MonitorEvent] = []
    /// The source's `status.attachment` at the last poll.
    private var attachment: Int?
    /// Events asked of the source per `poll`.
    static let slice = 4096

    /// Applies the source's events up to `until` (everything ready when nil). Returns true when
    /// it caught up (the source had no more events up to `until`, or is exhausted), false when
    /// the budget ran out first.
    mutating func pump(_ source: any EventSource, into monitor: inout Monitor, until: EventTime?,
                       maxEvents: Int = 200_000, maxSeconds: Double = 0.05) throws -> Bool {
        guard !exhausted else { return true }
        let start = WallClock.now()
        var applied = 0
        while applied < maxEvents {
            let want = min(Self.slice, maxEvents - applied)
            buffer.removeAll(keepingCapacity: true)
            let more = try source.poll(until: until, limit: want, into: &buffer)
            // A re-attaching live source follows a new guest now: nothing of the old one applies.
            // (It switches in a poll that delivers none of the new guest's events.)
            let now = source.status.attachment
            if let seen = attachment, seen != now { monitor = Monitor(configuration: monitor.configuration) }
            attachment = now
            monitor.apply(buffer)
            applied += buffer.count
            if !more { exhausted = true; return true }
            if buffer.count < want { return true }
            if WallClock.now() - start > maxSeconds { return false }
        }
        return false
    }
}

/// Speed limits for `>` and `<`.
enum ReplaySpeed {
    static let minimum = 1.0 / 64
    static let maximum = 4096.0
    /// A speed given on the command line above the maximum (or `max`) is kept by `>`.
    static func faster(_ s: Double) -> Double { s >= maximum ? s : min(maximum, s * 2) }
    static func slower(_ s: Double) -> Double { s.isFinite ? max(minimum, s / 2) : maximum }
}

extension SourceStatus.Kind {
    /// Replays and the simulator know their next event's time: a replay clock paces them.
    /// Live and daemon sources deliver what is ready, in their own (wall-clock) time.
    var isClocked: Bool { self == .replay || self == .demo }
}
