import SystemLibc
import LiveHost

/// `encmon-serve-<hash>` tracefs instances whose daemon is gone for good. A daemon keeps its
/// instance across a crash so that, restarted, it reads what was traced in the gap
/// (`TracefsProcessFeed`); a daemon that never comes back would leave it, tracing on, forever.
/// `encmon --vm` and `encmon serve` remove such instances at start-up.
///
/// Abandoned means all of:
/// - no running `encmon serve` has a state directory that hashes to the name (read from
///   `/proc/PID/cmdline` and `/proc/PID/cwd`), so a running daemon's instance is never touched;
/// - the instance exists for longer than the grace period (a daemon restarted within it by
///   systemd, `RestartSec=2s`, finds its buffer), and
/// - no CPU buffer holds unread events younger than the grace period with nothing overwritten
///   (those are what a restarting daemon would still read; unread events older than the grace
///   period say that no reader came for that long).
public enum AbandonedServeInstances {
    public static let namePrefix = "encmon-serve-"
    /// Ten minutes; `ENCMON_SERVE_INSTANCE_GRACE` (seconds) overrides it.
    public static let defaultGraceSeconds: Double = 600

    /// What the kernel says of one instance.
    public struct Observation: Sendable, Equatable {
        public var name: String
        public var secondsSinceCreated: Double
        /// The per-CPU `stats` files' text.
        public var perCPUStats: [String]

        public init(name: String, secondsSinceCreated: Double, perCPUStats: [String]) {
            self.name = name; self.secondsSinceCreated = secondsSinceCreated; self.perCPUStats = perCPUStats
        }
    }

    /// The decision, without side effects (see the type's comment).
    public static func isAbandoned(_ o: Observation, runningDaemons: Set<String>, graceSeconds: Double) -> Bool {
        guard o.name.hasPrefix(namePrefix), !runningDaemons.contains(o.name), o.secondsSinceCreated > graceSeconds else { return false }
        for text in o.perCPUStats {
            let s = BufferStats(text)
            if s.entries > 0, s.overrun == 0, s.now - s.oldest <= graceSeconds { return false }
        }
        return true
    }

    /// Removes the abandoned instances under `tracingDirectory` (a tracefs mount); returns their names.
    @discardableResult
    public static func remove(tracingDirectory: String, graceSeconds: Double = configuredGraceSeconds,
                              runningDaemons: Set<String> = instanceNamesOfRunningDaemons()) -> [String] {
        var removed: [String] = []
        for name in directoryEntries(tracingDirectory + "/instances") where name.hasPrefix(namePrefix) {
            guard let o = observe(name, tracingDirectory: tracingDirectory),
                  isAbandoned(o, runningDaemons: runningDaemons, graceSeconds: graceSeconds) else { continue }
            if TracefsInstance.remove(named: name) { removed.append(name) }
        }
        return removed
    }

    /// The grace period: `ENCMON_SERVE_INSTANCE_GRACE` seconds when set to a number >= 0.
    public static var configuredGraceSeconds: Double {
        guard let text = getenv("ENCMON_SERVE_INSTANCE_GRACE").map({ String(cString: $0) }),
              let seconds = Double(text), seconds >= 0, seconds.isFinite else { return defaultGraceSeconds }
        return seconds
    }

    /// The instance names of every `encmon serve` running now.
    public static func instanceNamesOfRunningDaemons(procRoot: String = "/proc") -> Set<String> {
        var names = Set<String>()
        for entry in directoryEntries(procRoot) {
            guard let pid = Int32(entry), pid > 0,
                  let raw = FileSystemCalls.readSmallText("\(procRoot)/\(pid)/cmdline") else { continue }
            let argv = raw.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            guard let dir = serveStateDirectory(commandLine: argv) else { continue }
            let cwd = dir.hasPrefix("/") ? "" : (readLink("\(procRoot)/\(pid)/cwd") ?? "")
            names.insert(TracefsProcessFeed.instanceName(stateDirectory: dir, workingDirectory: cwd))
        }
        return names
    }

    /// The state directory of an `encmon serve` command line (`--state-dir DIR`, `--state-dir=DIR`,
    /// else the default); nil for any other command line.
    static func serveStateDirectory(commandLine argv: [String]) -> String? {
        guard let program = argv.first, program.split(separator: "/").last?.hasPrefix("encmon") == true,
              argv.dropFirst().first(where: { !$0.hasPrefix("-") }) == "serve" else { return nil }
        var dir = DaemonConfiguration().stateDirectory
        var i = 1
        while i < argv.count {
            if argv[i] == "--state-dir", i + 1 < argv.count { dir = argv[i + 1]; i += 1 }
            else if argv[i].hasPrefix("--state-dir=") { dir = String(argv[i].dropFirst("--state-dir=".count)) }
            i += 1
        }
        return dir
    }

    private static func observe(_ name: String, tracingDirectory: String) -> Observation? {
        let dir = tracingDirectory + "/instances/" + name
        var st = stat()
        guard stat(dir, &st) == 0 else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let age = Double(now.tv_sec - st.st_ctim.tv_sec) + Double(now.tv_nsec - st.st_ctim.tv_nsec) / 1e9
        let cpus = directoryEntries(dir + "/per_cpu").filter { $0.hasPrefix("cpu") }
        let stats = cpus.compactMap { FileSystemCalls.readSmallText(dir + "/per_cpu/" + $0 + "/stats") }
        return Observation(name: name, secondsSinceCreated: age, perCPUStats: stats)
    }

    private static func directoryEntries(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The fields of a per-CPU `stats` file the decision needs (`entries: 3`, `overrun: 0`,
/// `oldest event ts: 10206.976126`, `now ts: 10206.977409`); missing fields read as 0.
struct BufferStats: Equatable {
    var entries: UInt64 = 0
    var overrun: UInt64 = 0
    var oldest: Double = 0
    var now: Double = 0

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            switch line[..<colon] {
            case "entries": entries = UInt64(value) ?? 0
            case "overrun": overrun = UInt64(value) ?? 0
            case "oldest event ts": oldest = Double(value).flatMap { $0.isFinite ? $0 : nil } ?? 0
            case "now ts": now = Double(value).flatMap { $0.isFinite ? $0 : nil } ?? 0
            default: break
            }
        }
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return s
    }
}
