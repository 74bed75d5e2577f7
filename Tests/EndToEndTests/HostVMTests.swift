import Foundation
import Testing
import TestSupport

/// `encmon list` and VM selection through the built binary: on a constructed /proc and libvirt
/// directory (hidden `--proc-root` / `--libvirt-run-dir`), and on the real host with a real KVM VM
/// from scripts/helpers/kvm-out-loop.c.
@Suite(.serialized) struct HostVMTests {
    static let kvmUsable = access("/dev/kvm", R_OK | W_OK) == 0

    static func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    /// A /proc with one QEMU VM (pid 100, two vCPU threads) and one shell, and a libvirt status
    /// file naming a second VM (pid 300, domain id 7).
    static func constructedHost() throws -> String {
        let root = NSTemporaryDirectory() + "encmon-e2e-host-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fm = FileManager.default
        func process(_ pid: Int, comm: String, args: [String], fds: [Int: String], threads: [Int: String]) throws {
            let dir = "\(root)/proc/\(pid)"
            try fm.createDirectory(atPath: dir + "/fd", withIntermediateDirectories: true)
            for (fd, target) in fds { try fm.createSymbolicLink(atPath: "\(dir)/fd/\(fd)", withDestinationPath: target) }
            try (comm + "\n").write(toFile: dir + "/comm", atomically: false, encoding: .utf8)
            try args.map { $0 + "\0" }.joined().write(toFile: dir + "/cmdline", atomically: false, encoding: .utf8)
            for (tid, name) in threads {
                try fm.createDirectory(atPath: "\(dir)/task/\(tid)", withIntermediateDirectories: true)
                try (name + "\n").write(toFile: "\(dir)/task/\(tid)/comm", atomically: false, encoding: .utf8)
            }
        }
        let vmFDs = [3: "/dev/kvm", 10: "anon_inode:kvm-vm", 11: "anon_inode:kvm-vcpu:0", 12: "anon_inode:kvm-vcpu:1"]
        try process(100, comm: "qemu-system-x86", args: ["qemu-system-x86_64", "-name", "guest=web1,debug-threads=on", "-m", "2G",
                                                         "-qmp", "unix:/run/web1.qmp,server=on,wait=off"],
                    fds: vmFDs, threads: [100: "qemu-system-x86", 101: "CPU 0/KVM", 102: "CPU 1/KVM"])
        try process(300, comm: "qemu-system-x86", args: ["qemu-system-x86_64", "-name", "guest=db,debug-threads=on", "-m", "size=1048576k"],
                    fds: vmFDs, threads: [300: "qemu-system-x86"])
        try process(200, comm: "bash", args: ["-bash"], fds: [0: "/dev/pts/0"], threads: [200: "bash"])
        try fm.createDirectory(atPath: root + "/libvirt", withIntermediateDirectories: true)
        try """
            <domstatus state='running' reason='booted' pid='300'>
              <monitor path='/var/lib/libvirt/qemu/domain-7-db/monitor.sock' type='unix'/>
              <vcpus><vcpu id='0' pid='301'/></vcpus>
              <domain type='kvm' id='7'><name>db</name><memory unit='KiB'>1048576</memory></domain>
            </domstatus>
            """.write(toFile: root + "/libvirt/db.xml", atomically: false, encoding: .utf8)
        return root
    }

    @Test func listsConstructedVMsAsTableAndJSON() throws {
        let root = try Self.constructedHost()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let roots = ["--proc-root", root + "/proc", "--libvirt-run-dir", root + "/libvirt"]
        let table = try run(Built.encmon, ["list"] + roots)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout == [
            "PID  NAME  LIBVIRT ID  MEMORY    VCPUS",
            "100  web1  -           2.00 GiB  2",
            "300  db    7           1.00 GiB  1",
        ].map { $0 + "\n" }.joined())
        let json = try run(Built.encmon, ["list", "--json"] + roots)
        #expect(json.status == 0)
        let vms = try #require(try Self.object(json.stdout)["vms"] as? [[String: Any]])
        #expect(vms.map { $0["pid"] as? Int } == [100, 300])
        #expect(vms[0]["qmpSocket"] as? String == "/run/web1.qmp")
        #expect((vms[0]["vcpuThreads"] as? [[String: Int]])?.map { $0["tid"] } == [101, 102])
        #expect(vms[1]["libvirtId"] as? Int == 7)
        #expect(vms[1]["libvirtName"] as? String == "db")
        #expect(vms[1]["qmpSocket"] as? String == "/var/lib/libvirt/qemu/domain-7-db/monitor.sock")
        #expect(vms[1]["memoryBytes"] as? Int == 1 << 30)
    }

    @Test func noVMsIsSaidAndNotAnError() throws {
        let root = NSTemporaryDirectory() + "encmon-e2e-empty-\(getpid())"
        try FileManager.default.createDirectory(atPath: root + "/proc/1/fd", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let roots = ["--proc-root", root + "/proc", "--libvirt-run-dir", root + "/none"]
        let text = try run(Built.encmon, ["list"] + roots)
        #expect(text.status == 0)
        #expect(text.stdout == "No VMs found on this host.\n")
        let json = try run(Built.encmon, ["list", "--json"] + roots)
        #expect(json.status == 0)
        #expect((try Self.object(json.stdout)["vms"] as? [Any])?.isEmpty == true)
    }

    @Test func aMissingProcRootIsAnError() throws {
        let r = try run(Built.encmon, ["list", "--proc-root", "/nonexistent/proc"])
        #expect(r.status == 74)
        #expect(r.stderr.contains("/nonexistent/proc"))
    }

    /// A real VM: `encmon list --json --stats` finds it by its QEMU-style name with its vCPU
    /// thread, and its `exits` counter rises between two runs.
    @Test(.enabled(if: kvmUsable, "needs a usable /dev/kvm (absent here, or no permission)"))
    func listShowsARealVMAndItsExitsRise() throws {
        let name = "encmon-e2e-\(getpid())"
        let guest = try TestVM(arguments: ["-name", "guest=\(name),debug-threads=on", "-m", "1M"])
        defer { guest.stop() }
        func entry() throws -> [String: Any] {
            let r = try run(Built.encmon, ["list", "--json", "--stats"])
            #expect(r.status == 0, "\(r.stderr)")
            let vms = try #require(try Self.object(r.stdout)["vms"] as? [[String: Any]])
            return try #require(vms.first { $0["pid"] as? Int == Int(guest.pid) }, "VM \(guest.pid) not listed: \(r.stdout)")
        }
        let first = try entry()
        #expect(first["name"] as? String == name)
        #expect(first["memoryBytes"] as? Int == 1 << 20)
        #expect((first["vcpuThreads"] as? [[String: Int]])?.map { $0["tid"] } == [Int(guest.vcpuThread)])
        let exits1 = try #require((first["kvmStats"] as? [String: Int])?["exits"], "\(first)")
        usleep(300_000)
        let exits2 = try #require((try entry()["kvmStats"] as? [String: Int])?["exits"])
        #expect(exits2 > exits1, "exits \(exits1) -> \(exits2)")
        let table = try run(Built.encmon, ["list"])
        #expect(table.stdout.contains(" \(name) "))
    }
}

/// Another user's VM: `encmon list` run as nobody (through setpriv) cannot read root's VM process,
/// says so on stderr with the pid and what to do, and still exits 0.
@Suite struct HostVMPermissionTests {
    static let usable = HostVMTests.kvmUsable && getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0

    @Test(.enabled(if: usable, "needs root (to drop to nobody), /dev/kvm and setpriv"))
    func anotherUsersVMIsNamedNotHidden() throws {
        let guest = try TestVM(arguments: ["-name", "guest=rootvm"])
        defer { guest.stop() }
        let dir = NSTemporaryDirectory() + "encmon-e2e-nobody-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let binary = dir + "/encmon"
        // Copied by cp, not in this process: a child spawned meanwhile by a parallel test would
        // inherit our write descriptor and exec would fail with ETXTBSY.
        #expect(try run("/bin/cp", [Built.encmon, binary]).status == 0)
        chmod(binary, 0o755)
        let r = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", binary, "list"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "No VMs readable as this user.\n")
        #expect(r.stderr.contains("\(guest.pid)") && r.stderr.contains("run as root"), "\(r.stderr)")
        let json = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", binary, "list", "--json"])
        #expect((try HostVMTests.object(json.stdout)["uninspectable"] as? [Int])?.contains(Int(guest.pid)) == true)
    }
}

/// Real QEMU (Debian's qemu-system-x86) under KVM: discovery reads what a real QEMU shows.
@Suite(.serialized) struct HostQEMUTests {
    static let qemu = "/usr/bin/qemu-system-x86_64"
    static let usable = HostVMTests.kvmUsable && access(qemu, X_OK) == 0

    /// Paused at start (`-S`), so it holds its VM and vCPU without using the CPU.
    @Test(.enabled(if: usable, "needs /dev/kvm and qemu-system-x86_64"))
    func listShowsARealQEMU() throws {
        let name = "encmon-qemu-\(getpid())"
        let socket = NSTemporaryDirectory() + "\(name).qmp"
        let pid = try spawnQuietly(Self.qemu, ["-accel", "kvm", "-name", "guest=\(name),debug-threads=on", "-m", "64M",
                                               "-display", "none", "-nodefaults", "-S",
                                               "-qmp", "unix:\(socket),server=on,wait=off"])
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            unlink(socket)
        }
        var vm: [String: Any]?
        for _ in 0..<100 where vm == nil {   // QEMU needs a moment to create its VM and vCPU thread
            let r = try run(Built.encmon, ["list", "--json", "--stats"])
            let vms = try HostVMTests.object(r.stdout)["vms"] as? [[String: Any]] ?? []
            vm = vms.first { $0["pid"] as? Int == Int(pid) && ($0["vcpus"] as? Int ?? 0) > 0 }
            if vm == nil { usleep(100_000) }
        }
        let found = try #require(vm, "QEMU \(pid) never listed with a vCPU")
        #expect(found["name"] as? String == name)
        #expect(found["qemuName"] as? String == name)
        #expect(found["memoryBytes"] as? Int == 64 << 20)
        #expect(found["qmpSocket"] as? String == socket)
        let tid = try #require((found["vcpuThreads"] as? [[String: Int]])?.first?["tid"])
        let comm = try String(contentsOfFile: "/proc/\(pid)/task/\(tid)/comm", encoding: .utf8)
        #expect(comm == "CPU 0/KVM\n")
        // QEMU before 8.2 keeps no statistics descriptor open: encmon says so; later ones have counts.
        if let stats = found["kvmStats"] as? [String: Int] {
            #expect(stats["exits"] != nil)
        } else {
            #expect((found["kvmStatsError"] as? String)?.contains("holds no KVM statistics descriptor") == true, "\(found)")
        }
    }
}

/// posix_spawn with output to /dev/null, unblocked signals and default dispositions.
func spawnQuietly(_ path: String, _ arguments: [String]) throws -> pid_t {
    try spawnWithDefaultSignals(path, arguments, environment: nil) { actions in
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    }
}

/// scripts/helpers/kvm-out-loop.c built with gcc and started in the background; always killed.
final class TestVM {
    let pid: pid_t
    let vcpuThread: Int32
    private let directory: String
    private var stopped = false

    init(arguments: [String]) throws {
        directory = NSTemporaryDirectory() + "encmon-e2e-vm-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let binary = directory + "/kvm-out-loop"
        let gcc = try run("/usr/bin/gcc", ["-O1", "-pthread", "-o", binary, Built.repositoryRoot + "/scripts/helpers/kvm-out-loop.c"])
        guard gcc.status == 0 else { throw SpawnError(path: "gcc: \(gcc.stderr)", code: 0) }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnError(path: "pipe", code: errno) }
        let child: pid_t
        do {
            child = try spawnWithDefaultSignals(binary, arguments, environment: nil) { actions in
                posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
                posix_spawn_file_actions_addclose(&actions, fds[0])
            }
        } catch {
            close(fds[1]); close(fds[0])
            throw error
        }
        close(fds[1])
        let handle = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        var line = Data()
        while let byte = try handle.read(upToCount: 1), let b = byte.first, b != 10 { line.append(b) }
        let fields = String(decoding: line, as: UTF8.self).split(separator: " ")
        pid = child
        guard fields.count == 3, fields[0] == "ready", let tid = Int32(fields[2]) else {
            vcpuThread = 0
            stop()
            throw SpawnError(path: "kvm-out-loop did not start: \(String(decoding: line, as: UTF8.self))", code: 0)
        }
        vcpuThread = tid
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        try? FileManager.default.removeItem(atPath: directory)
    }
}
