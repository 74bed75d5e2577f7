import SystemLibc
@testable import LiveHost

/// A /proc and a libvirt run directory built in a temporary directory: the links in `fd/` are
/// real (dangling) symlinks with the kernel's targets, so discovery reads them with readlink.
final class ConstructedHost {
    let root: String
    var procRoot: String { root + "/proc" }
    var libvirtDir: String { root + "/libvirt" }
    var discovery: HostVMDiscovery { HostVMDiscovery(procRoot: procRoot, libvirtRunDirectory: libvirtDir) }

    init() {
        root = "/tmp/encmon-host-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(root, 0o700); mkdir(procRoot, 0o700); mkdir(libvirtDir, 0o700)
    }

    deinit { removeTree(root) }

    /// A process: its fd links, comm, NUL-separated command line and threads (tid → comm).
    func process(_ pid: Int32, comm: String, arguments: [String] = [], fds: [Int32: String] = [:], threads: [Int32: String] = [:]) {
        let dir = "\(procRoot)/\(pid)"
        mkdir(dir, 0o755); mkdir(dir + "/fd", 0o755); mkdir(dir + "/task", 0o755)
        for (fd, target) in fds { symlink(target, "\(dir)/fd/\(fd)") }
        write(dir + "/comm", comm + "\n")
        write(dir + "/cmdline", arguments.map { $0 + "\0" }.joined())
        write(dir + "/status", "Name:\t\(comm)\nTgid:\t\(pid)\n")
        for (tid, name) in threads.merging([pid: comm], uniquingKeysWith: { a, _ in a }) {
            mkdir("\(dir)/task/\(tid)", 0o755)
            write("\(dir)/task/\(tid)/comm", name + "\n")
        }
    }

    /// A thread's own /proc entry (not listed by readdir on a real /proc, reachable by number).
    func thread(_ tid: Int32, of pid: Int32) {
        mkdir("\(procRoot)/.\(tid)", 0o755)  // hidden like the kernel's: not a number when listed
        rename("\(procRoot)/.\(tid)", "\(procRoot)/\(tid)")
        write("\(procRoot)/\(tid)/status", "Name:\tCPU 0/KVM\nTgid:\t\(pid)\n")
    }

    func libvirtStatus(_ name: String, xml: String, pidFile: Int32? = nil) {
        write("\(libvirtDir)/\(name).xml", xml)
        if let pidFile { write("\(libvirtDir)/\(name).pid", "\(pidFile)\n") }
    }

    func write(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileSystemCalls.listDirectory(path)) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    static let vmFDs: [Int32: String] = [0: "/dev/null", 3: "/dev/kvm", 11: "anon_inode:kvm-vm",
                                         12: "anon_inode:kvm-vcpu:0", 13: "anon_inode:kvm-vcpu:1", 14: "socket:[1234]"]

    /// A libvirt status file shaped like libvirt's (tests/qemustatusxml2xmldata).
    static func statusXML(name: String, id: Int, pid: Int32, vcpus: [(Int, Int32)], monitor: String, memoryKiB: UInt64) -> String {
        """
        <domstatus state='running' reason='booted' pid='\(pid)'>
          <taint flag='high-privileges'/>
          <monitor path='\(monitor)' type='unix'/>
          <vcpus>
        \(vcpus.map { "    <vcpu id='\($0.0)' pid='\($0.1)'/>" }.joined(separator: "\n"))
          </vcpus>
          <qemuCaps><flag name='kvm'/></qemuCaps>
          <libDir path='/var/lib/libvirt/qemu/domain-\(id)-\(name)'/>
          <domain type='kvm' id='\(id)'>
            <name>\(name)</name>
            <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
            <memory unit='KiB'>\(memoryKiB)</memory>
            <currentMemory unit='KiB'>\(memoryKiB)</currentMemory>
            <vcpu placement='static'>\(vcpus.count)</vcpu>
          </domain>
        </domstatus>
        """
    }
}
