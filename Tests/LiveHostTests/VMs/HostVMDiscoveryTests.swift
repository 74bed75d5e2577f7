import Testing
@testable import LiveHost

/// Discovery and `--vm ID` resolution over a constructed /proc and libvirt directory.
@Suite struct HostVMDiscoveryTests {
    /// web1: plain QEMU with -name and a QMP chardev; db: a libvirt domain (id 7) whose QEMU names
    /// itself `guest=db`; 200: a shell; 101 a vCPU thread of web1.
    static func host() -> ConstructedHost {
        let h = ConstructedHost()
        h.process(100, comm: "qemu-system-x86", arguments: [
            "/usr/bin/qemu-system-x86_64", "-enable-kvm", "-name", "guest=web1,debug-threads=on", "-m", "2G",
            "-chardev", "socket,id=mon0,path=/run/web1.qmp,server=on,wait=off", "-mon", "chardev=mon0,mode=control",
        ], fds: ConstructedHost.vmFDs, threads: [101: "CPU 0/KVM", 102: "CPU 1/KVM", 103: "IO mon_iothread"])
        h.thread(101, of: 100)
        h.process(300, comm: "qemu-system-x86", arguments: [
            "/usr/bin/qemu-system-x86_64", "-name", "guest=db,debug-threads=on", "-m", "size=4194304k",
            "-chardev", "socket,id=charmonitor,fd=35,server=on,wait=off", "-mon", "chardev=charmonitor,id=monitor,mode=control",
        ], fds: ConstructedHost.vmFDs, threads: [:])
        h.libvirtStatus("db", xml: ConstructedHost.statusXML(
            name: "db", id: 7, pid: 300, vcpus: [(0, 301), (1, 302)],
            monitor: "/var/lib/libvirt/qemu/domain-7-db/monitor.sock", memoryKiB: 4_194_304))
        h.process(200, comm: "bash", arguments: ["-bash"], fds: [0: "/dev/pts/0", 255: "/dev/pts/0"])
        return h
    }

    @Test func listsEveryProcessHoldingAVM() throws {
        let h = Self.host()
        let vms = try h.discovery.list()
        #expect(vms.map(\.pid) == [100, 300])
        #expect(vms[0] == HostVM(pid: 100, command: "qemu-system-x86", qemuName: "web1", memoryBytes: 2 << 30,
                                 vcpuThreads: [.init(index: 0, threadID: 101), .init(index: 1, threadID: 102)],
                                 qmpSocket: "/run/web1.qmp"))
        #expect(vms[1] == HostVM(pid: 300, command: "qemu-system-x86", qemuName: "db", libvirtID: 7, libvirtName: "db",
                                 memoryBytes: 4 << 30,
                                 vcpuThreads: [.init(index: 0, threadID: 301), .init(index: 1, threadID: 302)],
                                 qmpSocket: "/var/lib/libvirt/qemu/domain-7-db/monitor.sock"))
        #expect(vms[1].label == "VM db (libvirt id 7, pid 300)")
    }

    @Test func resolvesNumbersAndNames() throws {
        let h = Self.host()
        #expect(try h.discovery.resolve("100").pid == 100)
        #expect(try h.discovery.resolve("7").pid == 300, "a libvirt id wins over a pid")
        #expect(try h.discovery.resolve("300").pid == 300)
        #expect(try h.discovery.resolve("web1").pid == 100)
        #expect(try h.discovery.resolve("db").pid == 300)
        #expect(try h.discovery.resolve(" db\n").pid == 300)
        #expect(try h.discovery.resolve("101").pid == 100, "a vCPU thread id stands for its process")
    }

    @Test func aLibvirtIdBeatsAPidOfTheSameNumber() throws {
        let h = Self.host()
        h.libvirtStatus("other", xml: ConstructedHost.statusXML(name: "other", id: 100, pid: 300, vcpus: [],
                                                                 monitor: "/m", memoryKiB: 1024))
        h.write("\(h.libvirtDir)/db.xml", "")   // db's status gone: only "other" (id 100 → pid 300) remains
        #expect(try h.discovery.resolve("100").pid == 300)
        #expect(try h.discovery.resolve("100").libvirtName == "other")
    }

    @Test func errorsNameWhatWasTried() throws {
        let h = Self.host()
        #expect(throws: HostVMError.notFound(query: "nosuch", tried: "no libvirt domain or QEMU -name is 'nosuch'", known: ["web1", "db"])) {
            try h.discovery.resolve("nosuch")
        }
        #expect(throws: HostVMError.notFound(query: "4321", tried: "no libvirt domain with id 4321 and no process 4321", known: ["web1", "db"])) {
            try h.discovery.resolve("4321")
        }
        #expect(throws: HostVMError.notAVM(pid: 200, command: "bash")) { try h.discovery.resolve("200") }
        #expect(throws: HostVMError.self) { try h.discovery.resolve("") }
        #expect(throws: HostVMError.self) { try h.discovery.resolve("99999999999999999999") }
    }

    @Test func aNameTwoVMsShareIsAmbiguous() throws {
        let h = Self.host()
        h.process(400, comm: "qemu-system-x86", arguments: ["qemu", "-name", "web1"], fds: ConstructedHost.vmFDs)
        #expect(throws: HostVMError.ambiguous(query: "web1", candidates: ["web1 (pid 100)", "web1 (pid 400)"])) {
            try h.discovery.resolve("web1")
        }
        #expect(try h.discovery.resolve("400").pid == 400)
    }

    @Test func libvirtPidFileAndMissingDirectory() throws {
        let h = ConstructedHost()
        h.process(500, comm: "qemu-kvm", arguments: ["qemu-kvm"], fds: ConstructedHost.vmFDs)
        var xml = ConstructedHost.statusXML(name: "pidfile", id: 3, pid: 0, vcpus: [], monitor: "/m", memoryKiB: 1)
        xml = xml.replacing("<domstatus state='running' reason='booted' pid='0'>", with: "<domstatus state='running'>")
        h.libvirtStatus("pidfile", xml: xml, pidFile: 500)
        #expect(try h.discovery.resolve("3").pid == 500)
        #expect(try h.discovery.resolve("pidfile").libvirtID == 3)
        let noLibvirt = HostVMDiscovery(procRoot: h.procRoot, libvirtRunDirectory: h.root + "/absent")
        #expect(try noLibvirt.list().map(\.libvirtName) == [nil])
    }

    @Test func noVMsIsAnEmptyList() throws {
        let h = ConstructedHost()
        h.process(1, comm: "init", fds: [0: "/dev/null"])
        #expect(try h.discovery.list().isEmpty)
        #expect(throws: HostVMError.notFound(query: "x", tried: "no libvirt domain or QEMU -name is 'x'", known: [])) {
            try h.discovery.resolve("x")
        }
    }

    @Test func messagesAndExitCodesAreDistinct() {
        let errors: [HostVMError] = [
            .notFound(query: "a", tried: "t", known: []), .ambiguous(query: "a", candidates: ["x", "y"]),
            .notAVM(pid: 1, command: "c"), .permissionDenied(query: "a", detail: "d"),
            .systemCall(SystemCallError(call: "opendir /proc", errno: 2)),
        ]
        #expect(Set(errors.map(\.exitCode)).count == errors.count)
        for e in errors { #expect(!e.description.contains("\n")) }
        #expect(HostVMError.permissionDenied(query: "a", detail: "d").description.contains("run as root"))
    }
}
