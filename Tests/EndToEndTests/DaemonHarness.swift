import SystemLibc
import EncmonDaemon
import Testing
import TestSupport

/// A background child (daemon, Prometheus, a stand-in VM) spawned with an empty signal mask
/// (G7: Swift Testing's children otherwise inherit blocked signals); killed and reaped when
/// dropped, so no test leaves a process behind.
final class Spawned {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private var reaped = false
    private(set) var exitStatus: Int32?

    init(_ path: String, _ args: [String], logDirectory: String, name: String, environment: [String] = []) throws {
        stdoutPath = logDirectory + "/\(name).out"
        stderrPath = logDirectory + "/\(name).err"
        let env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "HOME=/tmp"] + environment
        pid = try spawnWithDefaultSignals(path, args, environment: env) { [stdoutPath, stderrPath] actions in
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        }
    }

    deinit { stop(signal: SIGKILL) }

    func signal(_ s: Int32) { if !reaped { kill(pid, s) } }

    /// Sends `signal` and reaps the child (SIGKILL after 10 s).
    @discardableResult
    func stop(signal s: Int32 = SIGTERM) -> Int32? {
        guard !reaped else { return exitStatus }
        kill(pid, s)
        for _ in 0..<200 {
            if reap(block: false) { return exitStatus }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        _ = reap(block: true)
        return exitStatus
    }

    /// Waits at most `seconds` for the child to exit by itself.
    func waitForExit(seconds: Double) -> Int32? {
        let deadline = monotonicNow() + seconds
        repeat {
            if reap(block: false) { return exitStatus }
            usleep(20_000)
        } while monotonicNow() < deadline
        return nil
    }

    private func reap(block: Bool) -> Bool {
        var status: Int32 = 0
        let r = waitpid(pid, &status, block ? 0 : WNOHANG)
        guard r == pid else { return false }
        reaped = true
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return true
    }

    var stderr: String { (try? readFile(stderrPath)) ?? "" }
    var stdout: String { (try? readFile(stdoutPath)) ?? "" }
}

func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Polls `condition` every 20 ms for at most `seconds`.
func eventually(_ seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = monotonicNow() + seconds
    repeat {
        if try condition() { return true }
        usleep(20_000)
    } while monotonicNow() < deadline
    return try condition()
}

/// A world-readable temporary directory (the refused client runs as another user), removed at the end.
final class TemporaryDirectory {
    let path: String
    init(_ name: String) {
        path = "/tmp/encmon-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(path, 0o755)
        chmod(path, 0o755)
    }
    deinit { _ = try? run("/bin/rm", ["-rf", path]) }
}

/// The file the daemon follows (`--feed-recording`): the tests' stand-in for the ring buffer.
struct FeedFile {
    let path: String
    init(path: String) {
        self.path = path
        append(["encmon-recording 1"])
    }

    func append(_ lines: [String]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let text = lines.map { $0 + "\n" }.joined()
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// `count` conversions of process `pid`, deterministic in `seed`, times after `start`:
    /// mostly to shared, some back to private, over 2048 pages.
    static func conversions(pid: Int32, count: Int, start: Double, seed: UInt64) -> [String] {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { i in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            let gfn = 0x1000 + (x % 2048)
            let pages = 1 + (x >> 20) % 8
            let dir = (x >> 40) % 4 == 0 ? "private" : "shared"
            return "conversion t=\(start + Double(i) * 0.01) dir=\(dir) gfn=0x\(String(gfn, radix: 16)) pages=\(pages) vcpu=\(i % 4) pid=\(pid) path=hypercall"
        }
    }

    /// Shared bytes after `lines`, by a naive page set (the reference the daemon must match).
    static func sharedBytes(_ lines: [String]) -> UInt64 {
        var shared = Set<UInt64>()
        for l in lines {
            let f = Dictionary(uniqueKeysWithValues: l.split(separator: " ").dropFirst().map {
                let kv = $0.split(separator: "=", maxSplits: 1)
                return (String(kv[0]), String(kv[1]))
            })
            let gfn = UInt64(f["gfn"]!.dropFirst(2), radix: 16)!
            let pages = UInt64(f["pages"]!)!
            for p in gfn..<(gfn + pages) { if f["dir"] == "shared" { shared.insert(p) } else { shared.remove(p) } }
        }
        return UInt64(shared.count) * 4096
    }
}

/// `encmon serve` on a socket in a temporary directory, fed by a recording file.
final class DaemonUnderTest {
    let directory: String
    let socket: String
    let stateDirectory: String
    let feed: FeedFile
    private(set) var process: Spawned?
    private(set) var metricsPort: Int?
    private var starts = 0
    /// The daemon's event source; nil = the recording-file feed (`--event E` = real tracefs).
    var feedArguments: [String]?
    /// Extra `NAME=VALUE` environment for the daemon.
    var environment: [String] = []

    init(directory: String, stateName: String = "state", feedPath: String? = nil) {
        mkdir(directory, 0o755)
        self.directory = directory
        socket = directory + "/encmon.sock"
        stateDirectory = directory + "/" + stateName
        feed = feedPath.map { FeedFile(existing: $0) } ?? FeedFile(path: directory + "/feed.rec")
    }

    /// Starts the daemon and waits until its socket answers.
    func start(_ extra: [String] = []) throws {
        starts += 1
        let p = try Spawned(Built.encmon, ["serve", "--socket", socket, "--state-dir", stateDirectory,
                                           ] + (feedArguments ?? ["--feed-recording", feed.path]) + extra,
                            logDirectory: directory, name: "daemon-\(socket.hashValue & 0xffff)-\(starts)", environment: environment)
        process = p
        let up = eventually(30) { p.stderr.contains("listening on") || p.waitForExit(seconds: 0) != nil }
        #expect(up && p.exitStatus == nil, "daemon did not start: \(p.stderr)")
        if let r = p.stderr.firstRange(of: "metrics on http://127.0.0.1:") {
            metricsPort = Int(p.stderr[r.upperBound...].prefix { $0.isNumber })
        }
    }

    func kill9() { process?.stop(signal: SIGKILL) }

    func stop() -> Int32? { process?.stop(signal: SIGTERM) }

    func connect() throws -> DaemonConnection { try DaemonConnection(path: socket) }

    /// The daemon's info on `pid` once it has applied `events` events.
    func waitForEvents(pid: Int32, _ events: UInt64, seconds: Double = 30) throws -> DaemonReplyLine.VMInfo? {
        let c = try connect()
        var info: DaemonReplyLine.VMInfo?
        _ = try eventually(seconds) {
            info = try c.request(DaemonRequest(id: 1, operation: .list)).vms?.first { $0.pid == pid && !$0.exited }
            return (info?.events ?? 0) >= events
        }
        return info
    }

    /// The model summary of the daemon's own `snapshot` reply (its `"summary"` field, the last one).
    func snapshotSummary(pid: Int32) throws -> String {
        let c = try connect()
        try c.send(DaemonRequest(id: 5, operation: .snapshot, vm: .pid(pid)))
        let line = try c.readLine(timeoutMilliseconds: 10_000) ?? ""
        guard let r = line.firstRange(of: "\"summary\":") else { return "no summary in: \(line.prefix(200))" }
        return String(line[r.lowerBound...])
    }
}

extension FeedFile {
    init(existing path: String) { self.path = path }
}
