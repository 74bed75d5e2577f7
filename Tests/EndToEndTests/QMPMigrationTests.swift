import Foundation
import SystemLibc
import Testing
import TestSupport

/// A minimal, independent QMP driver for the test (JSONSerialization over a Unix socket), so
/// the figures encmon prints are compared with what QEMU tells someone else.
final class QMPTestDriver {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(path: String, deadline: Double = 10) throws {
        let end = Date().timeIntervalSince1970 + deadline
        while true {
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                let bytes = Array(path.utf8)
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if rc == 0 { fd = s; break }
            close(s)
            if Date().timeIntervalSince1970 > end { throw QMPTestFailure("cannot connect to \(path)") }
            usleep(50_000)
        }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = try readMessage()  // greeting
        _ = try execute("qmp_capabilities")
    }

    deinit { close(fd) }

    func execute(_ command: String, _ arguments: [String: Any]? = nil) throws -> Any {
        var message: [String: Any] = ["execute": command]
        if let arguments { message["arguments"] = arguments }
        var data = try JSONSerialization.data(withJSONObject: message)
        data.append(10)
        _ = data.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        while true {
            let reply = try readMessage()
            if let r = reply["return"] { return r }
            if let e = reply["error"] { throw QMPTestFailure("\(command): \(e)") }
        }
    }

    private func readMessage() throws -> [String: Any] {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = Data(buffer[..<nl])
                buffer.removeSubrange(...nl)
                guard let o = try JSONSerialization.jsonObject(with: line) as? [String: Any] else { throw QMPTestFailure("not an object") }
                return o
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { throw QMPTestFailure("QMP socket closed or timed out") }
            buffer += chunk[..<n]
        }
    }
}

struct QMPTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A child process started with unblocked signals and default dispositions; `stop()` kills and reaps it.
final class ChildProcess {
    let pid: pid_t
    private var reaped = false

    init(_ path: String, _ args: [String], stdout: String = "/dev/null", stderr: String = "/dev/null") throws {
        let environment: [String] = ["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/tmp", "TERM=dumb"]
        pid = try spawnWithDefaultSignals(path, args, environment: environment) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
    }

    /// Sends `signal` and returns the exit status (128 + signal when killed by one). A child
    /// still running `grace` seconds later is killed with SIGKILL (its status then says so).
    @discardableResult func stop(_ signal: Int32 = SIGKILL, grace: Double = 10) -> Int32 {
        guard !reaped else { return -1 }
        kill(pid, signal)
        var status: Int32 = 0
        let end = Date().addingTimeInterval(grace)
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { break }
            if Date() > end { kill(pid, SIGKILL) }
            usleep(20_000)
        }
        reaped = true
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    deinit { stop() }
}

enum QEMUAvailability {
    static let binary = "/usr/bin/qemu-system-x86_64"
    static var installed: Bool { access(binary, X_OK) == 0 }
}

/// A free loopback TCP port (bound and released; QEMU binds it a moment later).
func freeLoopbackPort() throws -> UInt16 {
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(s) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    a.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &a) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) == 0 && getsockname(s, $0, &len) == 0 }
    }
    guard ok else { throw QMPTestFailure("no free port") }
    return UInt16(bigEndian: a.sin_port)
}

/// A TCG guest with 128 MiB of random RAM (zero pages would migrate in well under a second) and
/// two destinations listening on loopback. QEMU serves one client per monitor: the source has
/// `src.sock` for encmon and `ctl.sock` for the test (`control`). `stop()` kills all three.
final class MigrationRig {
    let dir = NSTemporaryDirectory() + "encmon-qmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    private var ports: [UInt16] = []
    private var processes: [ChildProcess] = []
    private(set) var control: QMPTestDriver! = nil

    init() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let urandom = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        try urandom.readData(ofLength: 128 << 20).write(to: URL(fileURLWithPath: dir + "/ram"))
        try urandom.close()
        let common = ["-machine", "q35,memory-backend=m", "-m", "128M", "-display", "none", "-nodefaults", "-accel", "tcg"]
        for k in 0..<2 {
            let port = try freeLoopbackPort()
            ports.append(port)
            processes.append(try ChildProcess(QEMUAvailability.binary, common + [
                "-object", "memory-backend-ram,id=m,size=128M",
                "-qmp", "unix:\(dir)/dst\(k).sock,server=on,wait=off", "-incoming", "tcp:127.0.0.1:\(port)"], stderr: dir + "/dst\(k).err"))
        }
        processes.append(try ChildProcess(QEMUAvailability.binary, common + [
            "-object", "memory-backend-file,id=m,size=128M,mem-path=\(dir)/ram,share=off",
            "-qmp", "unix:\(dir)/src.sock,server=on,wait=off",
            "-qmp", "unix:\(dir)/ctl.sock,server=on,wait=off"], stderr: dir + "/src.err"))
        control = try QMPTestDriver(path: dir + "/ctl.sock")
        for k in 0..<2 { _ = try QMPTestDriver(path: dir + "/dst\(k).sock") }  // the destinations are listening
    }

    /// Migrates to destination `k` and waits (90 s at most) for the end: QEMU's last
    /// `query-migrate` reply.
    func migrate(to k: Int) throws -> [String: Any] {
        _ = try control.execute("migrate", ["uri": "tcp:127.0.0.1:\(ports[k])"])
        var reply: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            reply = try control.execute("query-migrate") as? [String: Any] ?? [:]
            let status = reply["status"] as? String ?? ""
            if status == "completed" || status == "failed" || status == "cancelled" { break }
            usleep(200_000)
        }
        return reply
    }

    deinit { stop() }

    /// Idempotent: also run by deinit, for a rig whose init threw after starting some QEMUs.
    func stop() {
        control = nil
        for p in processes.reversed() { p.stop() }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

@Suite(.serialized, .timeLimit(.minutes(3)))
struct QMPMigrationTests {
    @Test(.enabled(if: QEMUAvailability.installed, "qemu-system-x86_64 is not installed (Makefile deps)"))
    func encmonFollowsARealMigrationToCompletion() throws {
        let rig = try MigrationRig()
        defer { rig.stop() }
        _ = try rig.control.execute("migrate-set-parameters", ["max-bandwidth": 16 << 20])
        let encmon = try ChildProcess(Built.encmon, ["--qmp", rig.dir + "/src.sock", "--batch", "--json", "-d", "0.25", "-n", "400",
                                                     "--record", rig.dir + "/rec"],
                                      stdout: rig.dir + "/out", stderr: rig.dir + "/err")
        defer { encmon.stop() }
        usleep(500_000)
        let final = try rig.migrate(to: 0)
        #expect(final["status"] as? String == "completed")
        usleep(1_000_000)  // a few more frames after completion

        // A second migration of the same VM, now with the `events` capability on (the test turns
        // it on; encmon only reads it): encmon starts its passes over and says it follows events.
        _ = try rig.control.execute("cont")
        _ = try rig.control.execute("migrate-set-capabilities", ["capabilities": [["capability": "events", "state": true]]])
        let final2 = try rig.migrate(to: 1)
        #expect(final2["status"] as? String == "completed")
        usleep(1_000_000)
        #expect(encmon.stop(SIGINT) == 128 + SIGINT)

        let output = try String(contentsOfFile: rig.dir + "/out", encoding: .utf8)
        let frames = try output.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let last = try Self.checkPolledMigration(frames, final: final)
        let last2 = try Self.checkMigrationFollowingEvents(frames, final: final2)
        #expect(last["status"] as? String == "completed")

        // The recording replays to the same passes and final figures.
        let replay = try run(Built.encmon, ["replay", rig.dir + "/rec", "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let replayed = try #require(try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any])
        let again = try #require(replayed["migration"] as? [String: Any])
        #expect(Self.passNumbers(again) == Self.passNumbers(last2))
        for key in ["status", "pass", "migrationsSeen", "ramTransferredBytes", "ramTotalBytes", "downtimeSeconds", "setupSeconds"] {
            #expect("\(again[key] ?? "nil")" == "\(last2[key] ?? "nil")", "\(key) after replay")
        }
    }

    /// The frames of the first (polled) migration: passes advance and never go back, the source
    /// says it polls, and the last frame's figures are QEMU's own `query-migrate` reply. Returns
    /// that last migration object.
    static func checkPolledMigration(_ frames: [[String: Any]], final: [String: Any]) throws -> [String: Any] {
        let first = frames.filter { ($0["migration"] as? [String: Any]).map { migrationsSeen($0) == 1 } ?? false }
        let migrations = first.compactMap { $0["migration"] as? [String: Any] }
        let passes = migrations.compactMap { ($0["pass"] as? NSNumber)?.intValue }
        #expect(passes == passes.sorted(), "passes never go back: \(passes)")
        #expect(Set(passes).count >= 2, "passes advance: \(passes)")
        #expect(migrations.contains { $0["status"] as? String == "active" })
        let source = try #require(first.last?["source"] as? [String: Any])
        #expect((source["position"] as? String)?.contains("events off: polling query-migrate") == true, "says it polls: \(source)")
        #expect((source["position"] as? String)?.contains("not a SEV guest") == true)

        let last = try #require(migrations.last)
        let ram = try #require(final["ram"] as? [String: Any])
        #expect(number(last, "pass") == number(ram, "dirty-sync-count"))
        #expect(number(last, "ramTransferredBytes") == number(ram, "transferred"))
        #expect(number(last, "ramRemainingBytes") == number(ram, "remaining"))
        #expect(number(last, "ramTotalBytes") == number(ram, "total"))
        #expect(number(last, "downtimeSeconds") == number(final, "downtime").map { $0 / 1000 })
        #expect(number(last, "setupSeconds") == number(final, "setup-time").map { $0 / 1000 })
        let mbps = try #require(number(ram, "mbps"))
        let bandwidth = try #require(number(last, "bandwidthBytesPerSecond"))
        #expect(abs(bandwidth - mbps * 1e6 / 8) <= 1e-3 * max(1, bandwidth), "bandwidth \(bandwidth) vs mbps \(mbps)")
        #expect(number(last, "dirtyPagesPerSecond") == number(ram, "dirty-pages-rate"))
        #expect((last["passes"] as? [Any])?.isEmpty == false)
        return last
    }

    /// The frames of the second migration (events on): the source says so, and its passes are its
    /// own only, ending at QEMU's dirty-sync count. Returns its last migration object.
    static func checkMigrationFollowingEvents(_ frames: [[String: Any]], final: [String: Any]) throws -> [String: Any] {
        let second = frames.filter { ($0["migration"] as? [String: Any]).map { migrationsSeen($0) == 2 } ?? false }
        let source = try #require(frames.last?["source"] as? [String: Any])
        #expect((source["position"] as? String)?.contains("migration events on") == true, "says it follows events: \(source)")
        let last = try #require(second.last?["migration"] as? [String: Any])
        let passes = passNumbers(last)
        let syncs = try #require(((final["ram"] as? [String: Any])?["dirty-sync-count"] as? NSNumber)?.intValue)
        #expect(last["status"] as? String == "completed")
        #expect(!passes.isEmpty && passes == passes.sorted() && Set(passes).count == passes.count, "\(passes)")
        #expect(passes.count <= syncs && passes.last == syncs, "second migration's passes only: \(passes) of \(syncs)")
        return last
    }

    static func migrationsSeen(_ m: [String: Any]) -> Int { (m["migrationsSeen"] as? NSNumber)?.intValue ?? 0 }
    static func number(_ o: [String: Any], _ k: String) -> Double? { (o[k] as? NSNumber)?.doubleValue }
    static func passNumbers(_ m: [String: Any]) -> [Int] {
        (m["passes"] as? [[String: Any]] ?? []).compactMap { ($0["pass"] as? NSNumber)?.intValue }
    }

    @Test(.enabled(if: QEMUAvailability.installed, "qemu-system-x86_64 is not installed (Makefile deps)"))
    func aQEMUThatGoesAwayIsReportedAndNothingHangs() throws {
        let dir = NSTemporaryDirectory() + "encmon-qmp-gone-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let qemu = try ChildProcess(QEMUAvailability.binary, ["-machine", "q35", "-m", "64M", "-display", "none", "-nodefaults",
                                                              "-accel", "tcg", "-qmp", "unix:\(dir)/q.sock,server=on,wait=off"])
        defer { qemu.stop() }
        _ = try QMPTestDriver(path: dir + "/q.sock")  // up
        let encmon = try ChildProcess(Built.encmon, ["--qmp", dir + "/q.sock", "--batch", "--json", "-d", "0.2", "-n", "400"],
                                      stdout: dir + "/out", stderr: dir + "/err")
        defer { encmon.stop() }
        usleep(1_000_000)
        qemu.stop()
        usleep(1_500_000)
        #expect(encmon.stop(SIGINT, grace: 5) == 128 + SIGINT, "encmon ends on SIGINT while QEMU is gone")
        let output = try String(contentsOfFile: dir + "/out", encoding: .utf8)
        let positions = try output.split(separator: "\n").map {
            let frame = try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            return (frame["source"] as? [String: Any])?["position"] as? String ?? ""
        }
        #expect(positions.contains { $0.contains("QEMU 7.") && $0.contains("VM ") }, "connected first: \(positions.prefix(3))")
        #expect(positions.last?.hasPrefix("no QEMU:") == true, "then says QEMU is gone: \(positions.last ?? "")")
    }

    @Test func aSocketThatIsNotThereIsAUsageError() throws {
        let r = try run(Built.encmon, ["--qmp", "/nonexistent/qmp.sock", "--batch", "-n", "1"])
        #expect(r.status == 69)
        #expect(r.stderr.contains("/nonexistent/qmp.sock"))
        #expect(r.stderr.contains("No such file"))
    }
}
