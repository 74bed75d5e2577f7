import SystemLibc

/// The clock a source's timestamps are in. Live sources share the model's time base, CLOCK_MONOTONIC
/// seconds; others are moved onto it before their events reach the model (`ClockNormalizer`).
public enum SourceClock: Sendable, Hashable {
    /// CLOCK_MONOTONIC seconds: live sources, and tracefs with `trace_clock` set to `mono`.
    case monotonic
    /// CLOCK_BOOTTIME seconds (ftrace's `boot` clock): monotonic plus the time suspended.
    case boot
    /// CLOCK_REALTIME seconds since 1970 (QMP's own event timestamps).
    case wall
    /// A raw counter (ftrace `counter`, `x86-tsc`) ticking `ticksPerSecond` times a second.
    case counter(ticksPerSecond: Double)
    /// A recording's or trace file's own time, whatever clock wrote it: replays keep it.
    case trace
    /// The simulator's seconds from 0.
    case simulator

    /// Seconds on `clock` now, for clocks this host can read.
    static func reading(_ clock: clockid_t) -> Double {
        var ts = timespec()
        guard clock_gettime(clock, &ts) == 0 else { return 0 }
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CLOCK_MONOTONIC seconds now: the one monotonic-clock reading of the codebase.
    public static func monotonicNow() -> Double { reading(CLOCK_MONOTONIC) }

    /// Now on this clock, where the host can read it (nil for trace, simulator and counters).
    func now() -> Double? {
        switch self {
        case .monotonic: Self.monotonicNow()
        case .wall: Self.reading(CLOCK_REALTIME)
        case .boot:
            #if os(Linux)
            Self.reading(CLOCK_BOOTTIME)
            #else
            Self.monotonicNow()
            #endif
        case .counter, .trace, .simulator: nil
        }
    }
}

/// Moves one source's timestamps onto CLOCK_MONOTONIC seconds, so that merged sources share one
/// `now`. Host clocks are offset by the difference of readings taken together at creation;
/// clocks the host cannot read (a trace's, the simulator's, a counter's) are anchored: their
/// first event lands at the monotonic time the normaliser saw it, and later ones keep their spacing.
/// Times that are not finite are refused (nil), never passed on.
public struct ClockNormalizer: Sendable {
    public let clock: SourceClock
    private var offset: Double?

    public init(clock: SourceClock) {
        self.clock = clock
        if clock == .monotonic {
            offset = 0
        } else if let sourceNow = clock.now() {
            offset = SourceClock.monotonicNow() - sourceNow
        }
    }

    /// Model time for a source time, or nil when `t` is not a usable time.
    public mutating func modelTime(_ t: EventTime) -> EventTime? {
        var seconds = t
        if case .counter(let hz) = clock {
            guard hz > 0 else { return nil }
            seconds = t / hz
        }
        guard seconds.isFinite else { return nil }
        if offset == nil { offset = SourceClock.monotonicNow() - seconds }
        let m = seconds + (offset ?? 0)
        return m.isFinite ? m : nil
    }
}
