import Testing
@testable import LiveHost
@testable import MonitorCore

@Suite struct QEMUCommandLineTests {
    @Test(arguments: [
        (["-name", "foo"], "foo"),
        (["-name", "guest=foo,debug-threads=on"], "foo"),
        (["-name", "foo,process=bar"], "foo"),
        (["--name", "a,,b,debug-threads=on"], "a,b"),
        (["-name", "process=bar,guest=web"], "web"),
        (["-name"], nil),
        (["-m", "-name"], nil),
    ] as [([String], String?)])
    func names(arguments: [String], expected: String?) {
        #expect(QEMUCommandLine(arguments: ["qemu"] + arguments).name == expected)
    }

    @Test(arguments: [
        (["-m", "2048"], UInt64(2048) << 20),
        (["-m", "2G"], 2 << 30),
        (["-m", "size=4194304k"], 4 << 30),
        (["-m", "size=2G,slots=4,maxmem=8G"], 2 << 30),
        (["-m", "1.5G"], 3 << 29),
        (["-object", "memory-backend-ram,id=m0,size=128M", "-object", "memory-backend-file,id=m1,size=1G,mem-path=/x"], (128 << 20) + (1 << 30)),
        (["-object", #"{"qom-type":"memory-backend-ram","id":"pc.ram","size":4294967296}"#], 4 << 30),
        (["-object", "iothread,id=io1"], nil),
        (["-m", "lots"], nil),
        (["-m", "99999999999999999999G"], nil),
        (["-m", "20000000000T"], nil),
    ] as [([String], UInt64?)])
    func memory(arguments: [String], expected: UInt64?) {
        #expect(QEMUCommandLine(arguments: ["qemu"] + arguments).memoryBytes == expected)
    }

    @Test(arguments: [
        (["-qmp", "unix:/tmp/q.sock,server=on,wait=off"], "/tmp/q.sock"),
        (["-qmp", "unix:path=/tmp/p.sock,server"], "/tmp/p.sock"),
        (["-qmp", "tcp:localhost:4444,server"], nil),
        (["-chardev", "socket,id=c,path=/run/m.sock,server=on", "-mon", "chardev=c,mode=control"], "/run/m.sock"),
        (["-chardev", "socket,id=c,path=/run/m.sock,server=on", "-mon", "chardev=c,mode=readline"], nil),
        (["-chardev", "socket,id=c,fd=3,server=on", "-mon", "chardev=c,mode=control"], nil),
    ] as [([String], String?)])
    func qmpSockets(arguments: [String], expected: String?) {
        #expect(QEMUCommandLine(arguments: ["qemu"] + arguments).qmpSocket == expected)
    }
}

@Suite struct LibvirtStatusTests {
    @Test func readsAStatusFile() throws {
        let xml = ConstructedHost.statusXML(name: "web&amp;db", id: 12, pid: 4242, vcpus: [(1, 4244), (0, 4243)],
                                            monitor: "/var/lib/libvirt/qemu/domain-12-web/monitor.sock", memoryKiB: 1_048_576)
        let s = try #require(LibvirtDomainStatus(xml: xml))
        #expect(s.name == "web&db")
        #expect(s.id == 12)
        #expect(s.pid == 4242)
        #expect(s.vcpuThreads == [.init(index: 0, threadID: 4243), .init(index: 1, threadID: 4244)])
        #expect(s.monitorPath == "/var/lib/libvirt/qemu/domain-12-web/monitor.sock")
        #expect(s.memoryBytes == 1 << 30)
    }

    @Test func notAStatusFile() {
        #expect(LibvirtDomainStatus(xml: "<domain type='kvm'><name>x</name></domain>") == nil)
        #expect(LibvirtDomainStatus(xml: "") == nil)
        #expect(LibvirtDomainStatus(xml: "<domstatus pid='1'><domain id='2'><name>") == nil)
        #expect(LibvirtDomainStatus(xml: "<domstatus pid='1'><domain id='2'><name/>", fallbackName: "f")?.name == "f")
    }

    /// Truncated and cut-up status files never trap.
    @Test func everyPrefixIsSafe() {
        let xml = ConstructedHost.statusXML(name: "n", id: 1, pid: 2, vcpus: [(0, 3)], monitor: "/m", memoryKiB: 4)
        for n in 0...xml.count { _ = LibvirtDomainStatus(xml: String(xml.prefix(n))) }
    }
}

/// Any process can put anything in its argv, and discovery reads every VMM's: random command
/// lines and status texts built from the interesting pieces never trap.
@Suite struct HostileHostTextTests {
    @Test func randomCommandLinesNeverTrap() {
        var random = SplitMix64(seed: 0xC0FFEE)
        let pieces = ["-name", "--name", "-m", "-object", "-qmp", "-chardev", "-mon", "guest=", ",", ",,", "=", "size=",
                      "99999999999999999999", "1.5", ".", "G", "k", "E", "memory-backend-ram", "{\"qom-type\":\"memory-backend-x\",\"size\":",
                      "unix:", "path=", "socket,id=a", "chardev=a,mode=control", "", "\u{0}", "é"]
        for _ in 0..<5_000 {
            let arguments = (0..<Int(random.next() % 8)).map { _ in
                (0..<Int(random.next() % 4)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            }
            _ = QEMUCommandLine(arguments: arguments)
        }
    }

    @Test func randomStatusTextsNeverTrap() {
        var random = SplitMix64(seed: 0xFEED)
        let pieces = ["<domstatus", " pid='", "'", "\"", ">", "<domain", " id='7'", "<name>", "</name>", "<vcpus>", "</vcpus>",
                      "<vcpu id='", "/>", "<monitor path='", "<memory unit='", "GiB", "</memory>", "&amp;", "&", "=", "x", "12"]
        for _ in 0..<5_000 {
            let text = (0..<Int(random.next() % 30)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            _ = LibvirtDomainStatus(xml: text, fallbackName: random.next() % 2 == 0 ? "f" : nil)
        }
    }
}
