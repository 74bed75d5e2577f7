import SystemLibc
import LiveHost

/// A process as the daemon tracks it: the pid plus the kernel's start time, so a reused pid is a
/// different process (`/proc/PID/stat` field 22, clock ticks since boot).
public struct ProcessIdentity: Hashable, Sendable, CustomStringConvertible {
    public var pid: Int32
    /// 0 when the process could not be read (already gone, or a test feed's made-up pid).
    public var startTicks: UInt64

    public init(pid: Int32, startTicks: UInt64) { self.pid = pid; self.startTicks = startTicks }

    public var description: String { "pid \(pid)" }

    /// The journal's file name stem: `PID-STARTTICKS`.
    public var fileStem: String { "\(pid)-\(startTicks)" }

    /// Parses a `fileStem`; nil for anything else.
    public init?(fileStem: Substring) {
        let parts = fileStem.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let p = Int32(parts[0]), p > 0, let t = UInt64(parts[1]) else { return nil }
        self.init(pid: p, startTicks: t)
    }
}

/// Reads what the kernel says about processes under `/proc`. No policy: callers decide.
public enum ProcFS {
    /// The process's identity and command name, or nil when `/proc/PID` cannot be read.
    public static func identity(of pid: Int32, root: String = "/proc") -> (ProcessIdentity, name: String)? {
        guard pid > 0, let stat = FileSystemCalls.readSmallText("\(root)/\(pid)/stat") else { return nil }
        // comm may hold spaces and parentheses: fields start after the last ')'.
        guard let close = stat.lastIndex(of: ")"), let open = stat.firstIndex(of: "(") , open < close else { return nil }
        let name = String(stat[stat.index(after: open)..<close])
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); starttime is field 22.
        guard fields.count > 19, let ticks = UInt64(fields[19]) else { return nil }
        return (ProcessIdentity(pid: pid, startTicks: ticks), name)
    }

    /// Whether the process still runs as the same process (pid not reused).
    public static func isRunning(_ id: ProcessIdentity) -> Bool {
        guard let now = identity(of: id.pid) else { return false }
        if id.startTicks == 0 { return true }
        return now.0.startTicks == id.startTicks
    }

    /// Seconds since boot of a `starttime` in ticks.
    public static func bootSeconds(ofTicks ticks: UInt64) -> Double {
        let hz = sysconf(Int32(_SC_CLK_TCK))
        return Double(ticks) / Double(hz > 0 ? hz : 100)
    }

    /// Whole clock ticks (rounded down) of a CLOCK_BOOTTIME time.
    public static func ticks(ofBootSeconds seconds: Double) -> UInt64 {
        let hz = sysconf(Int32(_SC_CLK_TCK))
        let t = seconds * Double(hz > 0 ? hz : 100)
        return t > 0 && t < 1e18 ? UInt64(t) : 0
    }

    /// CLOCK_BOOTTIME now, the clock `/proc/PID/stat` start times count in.
    public static func bootTimeNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Supplementary and effective groups of a running process (`Groups:` and `Gid:` in status).
    public static func groups(of pid: Int32) -> Set<UInt32> {
        guard let status = FileSystemCalls.readSmallText("/proc/\(pid)/status") else { return [] }
        var result = Set<UInt32>()
        for line in status.split(separator: "\n") {
            if line.hasPrefix("Groups:") || line.hasPrefix("Gid:") {
                for f in line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst() {
                    if let g = UInt32(f) { result.insert(g) }
                }
            }
        }
        return result
    }
}
