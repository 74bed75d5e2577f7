/// Per-CPU ring-buffer counters of an instance (`per_cpu/cpuN/stats`, kernel/trace/trace.c
/// `tracing_stats_read`): events overwritten before they were read, and events dropped while
/// the buffer was full in non-overwrite mode. Both are events the reader lost.
public struct RingBufferStats: Sendable, Hashable {
    public var overrun: UInt64 = 0
    public var dropped: UInt64 = 0
    public var lost: UInt64 { overrun &+ dropped }

    public init(overrun: UInt64 = 0, dropped: UInt64 = 0) { self.overrun = overrun; self.dropped = dropped }

    /// Parses the `stats` text (`entries: 0\noverrun: 12\n...dropped events: 0\n`); nil when
    /// neither counter is present.
    public init?(statsText: String) {
        var found = false
        for line in statsText.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            let value = UInt64(line[line.index(after: colon)...].trimmingSpaces)
            switch key {
            case "overrun": if let value { overrun = value; found = true }
            case "dropped events": if let value { dropped = value; found = true }
            default: break
            }
        }
        if !found { return nil }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" || s.last == "\r" { s.removeLast() }
        return s
    }
}
