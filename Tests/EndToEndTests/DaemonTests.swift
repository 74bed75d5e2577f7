import SystemLibc
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EncmonDaemon
import Testing
import TestSupport

/// `encmon serve` as a real process on a real socket, driven by the recording-file feed (a
/// stand-in for a ring buffer that persists across restarts; see RecordingFileFeed). The real
/// tracefs feed is tested in DaemonTracefsTests.
/// Stand-in VMs are real `sleep` processes, so start times, names and exits are the kernel's.
@Suite(.serialized) struct DaemonEndToEndTests {
    static let isRoot = getuid() == 0
    static let hasPrometheus = access("/usr/bin/prometheus", X_OK) == 0 && access("/usr/bin/promtool", X_OK) == 0

    @Test func twoViewersOnOneStreamWhileBadRequestsGetErrors() throws {
        let tmp = TemporaryDirectory("daemon-viewers")
        let daemon = DaemonUnderTest(directory: tmp.path)
        try daemon.start()
        defer { _ = daemon.stop() }
        let vm = try Spawned("/bin/sleep", ["600"], logDirectory: tmp.path, name: "vm")  // started after the daemon
        let early = FeedFile.conversions(pid: vm.pid, count: 200, start: 10, seed: 1)
        daemon.feed.append(early)
        let info = try #require(try daemon.waitForEvents(pid: vm.pid, 200))
        #expect(info.name == "sleep")
        #expect(info.trackingSinceStart, "the daemon ran before the process started")

        // Two subscribers: each starts from the daemon's model, then gets the same live events.
        let viewers = try [daemon.connect(), daemon.connect()]
        for v in viewers {
            let first = try v.request(DaemonRequest(id: 41, operation: .subscribe, vm: .pid(vm.pid)))
            let model = try #require(first.model)
            #expect(model.totals.events == 200)
            #expect(model.regions.sharedPages * 4096 == FeedFile.sharedBytes(early))
        }
        var received: [[String]] = [[], []]
        func drain(_ k: Int, until count: Int) throws {
            _ = try eventually {
                while let r = try viewers[k].readReply(timeoutMilliseconds: 20) { received[k] += r.events ?? [] }
                return received[k].count >= count
            }
        }

        // A third client sends malformed, oversized and unknown requests between live events.
        let bad = try daemon.connect()
        let late = FeedFile.conversions(pid: vm.pid, count: 150, start: 20, seed: 2)
        daemon.feed.append(Array(late[..<50]))
        try bad.sendLine("{not json")
        try bad.sendLine(#"{"v":1,"id":2,"op":"list","pad":""# + String(repeating: "x", count: 10_000) + "\"}")
        try bad.sendLine(#"{"v":1,"id":3,"op":"reboot"}"#)
        try bad.sendLine(#"{"v":9,"id":4,"op":"list"}"#)
        try bad.sendLine(#"{"v":1,"id":5,"op":"snapshot","vm":"no-such-vm"}"#)
        daemon.feed.append(Array(late[50...]))
        var codes: [String] = []
        for _ in 0..<5 {
            do { _ = try bad.readReply(timeoutMilliseconds: 10_000) } catch DaemonClientError.refused(_, let code, _) { codes.append(code) }
        }
        #expect(codes == ["malformed", "oversized", "unknown-op", "unsupported-version", "not-found"])
        // The bad client's connection still works, and the subscribers kept receiving.
        #expect(try bad.request(DaemonRequest(id: 6, operation: .list)).vms?.contains { $0.pid == vm.pid } == true)
        for k in 0..<2 { try drain(k, until: 150) }
        #expect(received[0] == late)
        #expect(received[1] == received[0])

        // The viewer binary: JSON of the state now, and the screen's header in batch mode.
        let json = try run(Built.encmon, ["--connect", daemon.socket, "--vm", String(vm.pid), "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout.contains("\"sharedBytes\": \(FeedFile.sharedBytes(early + late))"))
        #expect(json.stdout.contains("\"events\": 350"))
        let batch = try run(Built.encmon, ["--connect", daemon.socket, "--vm", String(vm.pid), "-b", "-n", "1", "-d", "0.2"], environment: ["COLUMNS": "200"])
        #expect(batch.status == 0, "\(batch.stderr)")
        #expect(batch.stdout.contains("daemon: sleep (pid \(vm.pid))"), "\(batch.stdout.prefix(300))")
        #expect(batch.stdout.contains("tracking since VM start"))

        // The VM exits: listed as exited, subscribers told.
        vm.stop(signal: SIGKILL)
        var exited = false
        _ = try eventually { while let r = try viewers[0].readReply(timeoutMilliseconds: 50) { exited = exited || r.exited == true }; return exited }
        #expect(exited)
        #expect(try bad.request(DaemonRequest(id: 7, operation: .list)).vms?.first { $0.pid == vm.pid }?.exited == true)
    }

    static let canRunVM = access("/dev/kvm", R_OK | W_OK) == 0 && access("/usr/bin/qemu-system-x86_64", X_OK) == 0

    /// A real QEMU/KVM guest (paused before its first instruction, so it costs nothing) is found
    /// by discovery, named by its -name, tracked from its start, and noticed when it exits.
    @Test(.enabled(if: canRunVM, "needs /dev/kvm and qemu-system-x86_64"))
    func realVMIsDiscoveredFromItsStartAndItsExitNoticed() throws {
        let tmp = TemporaryDirectory("daemon-vm")
        let daemon = DaemonUnderTest(directory: tmp.path)
        try daemon.start()
        defer { _ = daemon.stop() }
        let name = "encmon-daemon-e2e-\(getpid())"
        let qemu = try Spawned("/usr/bin/qemu-system-x86_64", ["-accel", "kvm", "-name", name, "-m", "64", "-S",
                                                               "-nodefaults", "-display", "none", "-monitor", "none"],
                               logDirectory: tmp.path, name: "qemu")
        defer { qemu.stop(signal: SIGKILL) }
        let c = try daemon.connect()
        var vm: DaemonReplyLine.VMInfo?
        _ = try eventually(30) {
            vm = try c.request(DaemonRequest(id: 1, operation: .list)).vms?.first { $0.pid == qemu.pid }
            return vm != nil
        }
        #expect(vm?.name == name, "\(qemu.stderr)")
        #expect(vm?.trackingSinceStart == true)
        #expect(vm?.exited == false)
        qemu.stop(signal: SIGKILL)
        #expect(try eventually(10) { try c.request(DaemonRequest(id: 2, operation: .list)).vms?.first { $0.pid == qemu.pid }?.exited == true })
    }

    @Test func noDaemonAndUnknownVMAreClearErrors() throws {
        let tmp = TemporaryDirectory("daemon-errors")
        let none = try run(Built.encmon, ["--connect", tmp.path + "/absent.sock", "--json"])
        #expect(none.status == 69)
        #expect(none.stderr.contains(tmp.path + "/absent.sock"))
        let daemon = DaemonUnderTest(directory: tmp.path)
        try daemon.start()
        defer { _ = daemon.stop() }
        let unknown = try run(Built.encmon, ["--connect", daemon.socket, "--vm", "999999", "--json"])
        #expect(unknown.status == 66)
        #expect(unknown.stderr.contains("no tracked process pid 999999"))
        let bad = try run(Built.encmon, ["serve", "--metrics", "nonsense"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--metrics must be HOST:PORT"))
    }

    /// `encmon --vm ID` without `--connect` shows the daemon's view when the daemon tracks that VM,
    /// and traces directly (here: refused, the stand-in holds no VM) when it does not.
    @Test func vmUsesTheDaemonWhenItTracksTheVM() throws {
        let tmp = TemporaryDirectory("daemon-vm-fallback")
        let daemon = DaemonUnderTest(directory: tmp.path)
        try daemon.start()
        defer { _ = daemon.stop() }
        let vm = try Spawned("/bin/sleep", ["600"], logDirectory: tmp.path, name: "vm")
        let other = try Spawned("/bin/sleep", ["600"], logDirectory: tmp.path, name: "other")
        daemon.feed.append(FeedFile.conversions(pid: vm.pid, count: 5, start: 1, seed: 11))
        _ = try daemon.waitForEvents(pid: vm.pid, 5)
        let env = ["ENCMON_DAEMON_SOCKET": daemon.socket]
        let tracked = try run(Built.encmon, ["--vm", String(vm.pid), "--json"], environment: env)
        #expect(tracked.status == 0, "\(tracked.stderr)")
        #expect(tracked.stdout.contains("\"events\": 5"), "\(tracked.stdout)")
        #expect(tracked.stdout.contains("\"kind\": \"daemon\""), "\(tracked.stdout)")
        // A process the daemon does not track: a note, then direct tracing, which refuses a non-VM.
        let untracked = try run(Built.encmon, ["--vm", String(other.pid), "--json"], environment: env)
        #expect(untracked.stderr.contains("tracing directly"), "\(untracked.stderr)")
        #expect(untracked.status == 68 || untracked.status == 77, "\(untracked.status): \(untracked.stderr)")
        // No socket at the path: direct tracing without a note.
        let none = try run(Built.encmon, ["--vm", String(other.pid), "--json"], environment: ["ENCMON_DAEMON_SOCKET": tmp.path + "/absent.sock"])
        #expect(!none.stderr.contains("daemon"), "\(none.stderr)")
        #expect(none.status == 68 || none.status == 77, "\(none.status): \(none.stderr)")
    }

    @Test(.enabled(if: isRoot, "needs root to run a client as another user (setpriv)"))
    func clientOutsideTheSocketGroupIsRefused() throws {
        let tmp = TemporaryDirectory("daemon-group")
        let outsider = ["--reuid=65534", "--regid=65533", "--clear-groups", Built.encmon]
        // Default mode 0660: the kernel refuses connect(2) to a non-member.
        let strict = DaemonUnderTest(directory: tmp.path, stateName: "strict")
        try strict.start(["--group", "nogroup"])
        let vm = try Spawned("/bin/sleep", ["600"], logDirectory: tmp.path, name: "vm")
        strict.feed.append(FeedFile.conversions(pid: vm.pid, count: 5, start: 1, seed: 3))
        _ = try strict.waitForEvents(pid: vm.pid, 5)
        let refused = try run("/usr/bin/setpriv", outsider + ["--connect", strict.socket, "--json"])
        #expect(refused.status == 77, "\(refused.stderr)")
        #expect(refused.stderr.contains("Permission denied"))
        // A member of the group (primary gid nogroup) is served without root.
        // `--vm`: real VMs of other tests running at the same time are tracked too.
        let member = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Built.encmon,
                                                  "--connect", strict.socket, "--vm", String(vm.pid), "--json"])
        #expect(member.status == 0, "\(member.stderr)")
        #expect(member.stdout.contains("\"events\": 5"))
        _ = strict.stop()

        // A socket opened wider by mistake: the daemon's SO_PEERCRED check still refuses.
        let open = DaemonUnderTest(directory: tmp.path + "/wide")
        try open.start(["--group", "nogroup", "--socket-mode", "0666"])
        defer { _ = open.stop() }
        let peercred = try run("/usr/bin/setpriv", outsider + ["--connect", open.socket, "--json"])
        #expect(peercred.status == 77, "\(peercred.stderr)")
        #expect(peercred.stderr.contains("permission-denied"))
    }

    /// With the default journal size and with journals compacted every few kilobytes (so the
    /// restart rebuilds from a model state file plus a journal tail).
    @Test(arguments: [[], ["--journal-max-bytes", "4096"]])
    func sigkillAndRestartMidStreamRebuildsTheSameState(journalOptions: [String]) throws {
        let tmp = TemporaryDirectory("daemon-restart")
        let daemon = DaemonUnderTest(directory: tmp.path)
        try daemon.start(journalOptions)
        let vm = try Spawned("/bin/sleep", ["600"], logDirectory: tmp.path, name: "vm")
        let phase1 = FeedFile.conversions(pid: vm.pid, count: 400, start: 100, seed: 4)
        daemon.feed.append(phase1)
        _ = try daemon.waitForEvents(pid: vm.pid, 400)
        daemon.feed.append(FeedFile.conversions(pid: vm.pid, count: 100, start: 105, seed: 5))
        daemon.kill9()  // mid-stream: some of these may be journaled, some not
        // The gap: events while no daemon runs, and a ring-buffer overflow.
        let gap = FeedFile.conversions(pid: vm.pid, count: 300, start: 110, seed: 6) + ["lost t=113.5 count=17"]
        daemon.feed.append(gap)
        try daemon.start(journalOptions)
        defer { _ = daemon.stop() }
        daemon.feed.append(FeedFile.conversions(pid: vm.pid, count: 200, start: 120, seed: 7))
        let info = try #require(try daemon.waitForEvents(pid: vm.pid, 1001))
        #expect(info.incompleteSince == 113.5)
        #expect(info.trackingSinceStart)
        if !journalOptions.isEmpty {
            #expect(access(daemon.stateDirectory + "/\(vm.pid)-\(try startTicks(vm.pid)).state", F_OK) == 0, "no compaction happened")
        }

        // The uninterrupted run: a second daemon with a fresh state directory on the same feed.
        let reference = DaemonUnderTest(directory: tmp.path + "/ref", feedPath: daemon.feed.path)
        try reference.start()
        defer { _ = reference.stop() }
        _ = try reference.waitForEvents(pid: vm.pid, 1001)
        let restarted = try daemon.snapshotSummary(pid: vm.pid)
        #expect(restarted.contains("\"events\": 1001"))
        #expect(restarted.contains("\"sharedBytes\": \(info.sharedBytes)"))
        #expect(restarted == (try reference.snapshotSummary(pid: vm.pid)))
        // A viewer rebuilt from the restarted daemon's journal sees the same state too.
        let viewer = try run(Built.encmon, ["--connect", daemon.socket, "--vm", String(vm.pid), "--json"])
        let refViewer = try run(Built.encmon, ["--connect", reference.socket, "--vm", String(vm.pid), "--json"])
        #expect(viewer.status == 0 && refViewer.status == 0)
        #expect(viewer.stdout == refViewer.stdout)
        #expect(viewer.stdout.contains("\"events\": 1001"))
        let header = try run(Built.encmon, ["--connect", daemon.socket, "--vm", String(vm.pid), "-b", "-n", "1", "-d", "0.1"], environment: ["COLUMNS": "200"])
        #expect(header.stdout.contains("incomplete since t=113.5"), "\(header.stdout.prefix(400))")
    }

    @Test(.enabled(if: hasPrometheus, "needs Debian's prometheus and promtool (make deps)"))
    func prometheusScrapesTheModel() throws {
        let tmp = TemporaryDirectory("daemon-prometheus")
        let daemon = DaemonUnderTest(directory: tmp.path)
        try daemon.start(["--metrics", "127.0.0.1:0"])
        defer { _ = daemon.stop() }
        let port = try #require(daemon.metricsPort)
        let vm = try Spawned("/bin/sleep", ["600"], logDirectory: tmp.path, name: "vm")
        let lines = FeedFile.conversions(pid: vm.pid, count: 300, start: 50, seed: 8)
        daemon.feed.append(lines)
        let info = try #require(try daemon.waitForEvents(pid: vm.pid, 300))
        let expectedShared = FeedFile.sharedBytes(lines)
        #expect(info.sharedBytes == expectedShared)

        let check = try run("/bin/bash", ["-c", "set -o pipefail; curl -sf http://127.0.0.1:\(port)/metrics | promtool check metrics"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")

        let webPort = try daemonTestFreePort()
        let config = """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: encmon
                scrape_interval: 1s
                static_configs:
                  - targets: ['127.0.0.1:\(port)']
            """
        let configPath = tmp.path + "/prometheus.yml"
        FeedFile(existing: configPath).append([config])
        let prometheus = try Spawned("/usr/bin/prometheus", [
            "--config.file=\(configPath)", "--storage.tsdb.path=\(tmp.path)/tsdb",
            "--web.listen-address=127.0.0.1:\(webPort)", "--log.level=warn",
        ], logDirectory: tmp.path, name: "prometheus")
        defer { prometheus.stop() }  // always stopped, also when an expectation fails

        func query(_ q: String) throws -> [PrometheusSample] {
            let r = try run("/usr/bin/curl", ["-sfG", "http://127.0.0.1:\(webPort)/api/v1/query", "--data-urlencode", "query=\(q)"])
            guard r.status == 0, let reply = try? JSONDecoder().decode(PrometheusReply.self, from: Data(r.stdout.utf8)) else { return [] }
            return reply.data.result
        }
        let pid = String(vm.pid)
        var shared: [PrometheusSample] = []
        let scraped = try eventually(60) {
            shared = try query("encmon_shared_bytes{pid=\"\(pid)\"}")
            return !shared.isEmpty
        }
        #expect(scraped, "no scrape within 60 s: \(prometheus.stderr.suffix(600))")
        #expect(shared.first?.value == Double(expectedShared))
        #expect(shared.first?.metric["name"] == "sleep")
        let toShared = UInt64(lines.count { $0.contains("dir=shared") })
        #expect(try query("encmon_conversions_total{pid=\"\(pid)\",direction=\"to_shared\"}").first?.value == Double(toShared))
        #expect(try query("encmon_conversions_total{pid=\"\(pid)\",direction=\"to_private\"}").first?.value
                == Double(UInt64(lines.count) - toShared))
        #expect(try query("encmon_shared_regions{pid=\"\(pid)\"}").first?.value == Double(info.regions))
        #expect(try query("encmon_lost_events_total{pid=\"\(pid)\"}").first?.value == 0)
        #expect(try query("encmon_build_info").first?.metric["version"] != nil)
        #expect(try query("up{job=\"encmon\"}").first?.value == 1)

        // Every query of the shipped Grafana dashboard is valid PromQL and finds encmon's series.
        let dashboard = try JSONDecoder().decode(GrafanaDashboard.self, from: Data(readFile(Built.repositoryRoot + "/deploy/grafana-dashboard.json").utf8))
        #expect(dashboard.panels.count >= 8)
        for panel in dashboard.panels {
            for target in panel.targets {
                let expr = target.expr.replacing("$instance", with: ".*").replacing("$vm", with: ".*")
                let r = try run("/usr/bin/curl", ["-sG", "http://127.0.0.1:\(webPort)/api/v1/query", "--data-urlencode", "query=\(expr)"])
                #expect(r.stdout.firstRange(of: #""status":"success""#) != nil, "\(panel.title): \(expr): \(r.stdout)")
            }
        }
        let shippedConfig = try run("/usr/bin/promtool", ["check", "config", Built.repositoryRoot + "/deploy/prometheus.yml"])
        #expect(shippedConfig.status == 0, "\(shippedConfig.stdout)")
    }
}

/// The parts of deploy/grafana-dashboard.json the test checks.
struct GrafanaDashboard: Decodable {
    struct Panel: Decodable {
        struct Target: Decodable { var expr: String }
        var title: String
        var targets: [Target]
    }
    var panels: [Panel]
}

/// `/api/v1/query` replies of an instant vector.
struct PrometheusReply: Decodable {
    struct Data: Decodable { var result: [PrometheusSample] }
    var status: String
    var data: Data
}

struct PrometheusSample: Decodable {
    var metric: [String: String]
    var value: Double?

    enum Keys: String, CodingKey { case metric, value }
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        metric = try c.decode([String: String].self, forKey: .metric)
        var v = try c.nestedUnkeyedContainer(forKey: .value)
        _ = try v.decode(Double.self)  // the evaluation timestamp
        value = Double(try v.decode(String.self))
    }
}

/// `/proc/PID/stat` field 22.
func startTicks(_ pid: pid_t) throws -> UInt64 {
    let stat = try readFile("/proc/\(pid)/stat")
    let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
    return UInt64(fields[19]) ?? 0
}

/// A loopback TCP port that was free a moment ago (bind to 0, read it back, close).
func daemonTestFreePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else { throw SpawnError(path: "bind 127.0.0.1:0", code: errno) }
    return Int(UInt16(bigEndian: addr.sin_port))
}
