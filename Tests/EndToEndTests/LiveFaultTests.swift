import SystemLibc
import Foundation
import Testing

/// Faults on the live path, through the built binary on the real kernel (issue 16): the tracefs
/// instance removed by another process, permission to read it taken away mid-run, and signals
/// during start-up. Each ends with one clear line and a documented status, the final state of
/// what was read, and no instance left.
@Suite(.serialized, .enabled(if: TestTracefs.usable, "needs root and tracefs"))
struct LiveFaultTests {
    func instances(of pid: pid_t) -> [String] {
        TestTracefs.instances().filter { $0.hasPrefix("encmon-\(pid)-") }
    }

    /// A stand-in that made `calls` and holds, an encmon watching it with frames every 2 s, and
    /// the model of the calls; `fault` runs once the calls were made (and read).
    func runUntilFault(seed: UInt64, encmonPrefix: [String] = [], fault: (String) throws -> Void,
                       check: (Child, SharedPageSet, Int) throws -> Void) throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let calls = standInSequence(seed: seed, count: 200, base: 0x1f000000)
        var model = SharedPageSet()
        calls.forEach { model.apply($0) }
        let guest = try Child(standIn.program, [try standIn.writeCalls(calls, name: "calls"), "hold"], tag: "fault-guest")
        let command = encmonPrefix.isEmpty ? Built.encmon : encmonPrefix[0]
        let encmon = try Child(command, Array(encmonPrefix.dropFirst()) + (encmonPrefix.isEmpty ? [] : [Built.encmon])
                               + ["--vm", "\(guest.pid)", "--event", standIn.eventArgument, "--batch", "--json", "-d", "2"], tag: "fault-encmon")
        defer { guest.cleanUp(); encmon.cleanUp() }
        try Child.await(seconds: 30, "encmon attached") { encmon.stderr.contains("in tracefs instance") || encmon.wait(seconds: 0) != nil }
        let name = try #require(instances(of: encmon.pid).first, "\(encmon.stderr)")
        guest.send("go\n")
        try Child.await(seconds: 30, "calls made") { guest.stdout.contains("done") }
        usleep(500_000)   // the reader passes every 100 ms: the calls are read by now
        let linesBefore = encmon.stdout.split(separator: "\n").count
        try fault(name)
        let status = try #require(encmon.wait(seconds: 30), "encmon did not end: \(encmon.stderr)")
        let lines = try jsonLines(encmon.stdout)
        // A final frame after the fault, with everything read.
        #expect(lines.count > linesBefore)
        let last = try #require(lines.last)
        #expect(regionStrings(last) == model.regions)
        #expect((last["conversions"] as? NSNumber)?.intValue == model.accepted)
        #expect(last["exited"] as? Bool == false)
        try check(encmon, model, Int(status))
        #expect(instances(of: encmon.pid).isEmpty)
        #expect(access(TestTracefs.root + "/instances/" + name, F_OK) != 0)
        // The watched process was not harmed.
        #expect(guest.wait(seconds: 0) == nil)
        standIn.remove()
        #expect(!TestTracefs.uprobeDefinitions().contains(standIn.event))
    }

    /// Another process removes encmon's instance (`rmdir`, retried while encmon's reader holds
    /// its files open: the kernel refuses with EBUSY then).
    @Test func instanceRemovedByAnotherProcess() throws {
        try runUntilFault(seed: 61, fault: { name in
            try Child.await(seconds: 10, "instance removed") { rmdir(TestTracefs.root + "/instances/" + name) == 0 }
        }, check: { encmon, _, status in
            #expect(status == 74, "\(encmon.stderr)")
            let said = encmon.stderr.split(separator: "\n").filter { $0.contains("was removed by another process") }
            #expect(said.count == 1, "\(encmon.stderr)")
        })
    }

    /// Permission taken away mid-run, for real: encmon runs as uid 0 without CAP_DAC_OVERRIDE and
    /// CAP_DAC_READ_SEARCH (setpriv drops them from the bounding set), so tracefs file modes apply
    /// to it as to any owner; the test then makes the instance's `per_cpu` directory mode 000.
    @Test(.enabled(if: access("/usr/bin/setpriv", X_OK) == 0, "needs setpriv"))
    func permissionTakenAwayMidRun() throws {
        var perCPU = ""
        defer { if !perCPU.isEmpty { chmod(perCPU, 0o750) } }
        try runUntilFault(seed: 62, encmonPrefix: ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search"], fault: { name in
            perCPU = TestTracefs.root + "/instances/" + name + "/per_cpu"
            #expect(chmod(perCPU, 0) == 0)
        }, check: { encmon, _, status in
            #expect(status == 77, "\(encmon.stderr)")
            let said = encmon.stderr.split(separator: "\n").filter { $0.contains("was taken away while tracing") }
            #expect(said.count == 1, "\(encmon.stderr)")
        })
    }

    /// SIGTERM, SIGINT and SIGHUP at a sweep of moments from exec to running: before the handlers,
    /// while the instance is set up, and after. Every run ends by that signal and leaves no
    /// instance. The sweep spans the start-up time measured first (it varies with the load), and
    /// goes on later until one run was signalled with its instance there.
    @Test(arguments: [SIGTERM, SIGINT, SIGHUP])
    func signalDuringStartUpLeavesNoInstance(signal: Int32) throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let guest = try Child(standIn.program, [try standIn.writeCalls([], name: "calls"), "hold"], tag: "fault-guest")
        defer { guest.cleanUp() }
        let arguments = ["--vm", "\(guest.pid)", "--event", standIn.eventArgument, "--batch", "--json", "-d", "0.2"]
        var beforeInstance = 0, instanceThere = 0
        func signalled(after microseconds: Int) throws {
            let encmon = try Child(Built.encmon, arguments, tag: "encmon-start")
            defer { encmon.cleanUp() }
            usleep(useconds_t(microseconds))
            if instances(of: encmon.pid).isEmpty { beforeInstance += 1 } else { instanceThere += 1 }
            kill(encmon.pid, signal)
            let status = encmon.wait(seconds: 15)
            #expect(status == 128 + signal, "after \(microseconds) µs: status \(String(describing: status)), \(encmon.stderr)")
            #expect(instances(of: encmon.pid).isEmpty, "after \(microseconds) µs an instance was left")
        }
        // How long start-up takes now: until the instance exists.
        let probe = try Child(Built.encmon, arguments, tag: "encmon-start")
        let began = Date()
        try Child.await(seconds: 30, "instance created") { !instances(of: probe.pid).isEmpty }
        let startUp = Int(Date().timeIntervalSince(began) * 1e6)
        kill(probe.pid, signal)
        #expect(probe.wait(seconds: 15) == 128 + signal)
        probe.cleanUp()
        for step in 0...12 { try signalled(after: startUp * step / 10) }
        var late = startUp * 2
        while instanceThere == 0 && late < 20_000_000 {
            try signalled(after: late)
            late *= 2
        }
        // The sweep reached both sides of the instance's creation.
        #expect(beforeInstance > 0 && instanceThere > 0, "before \(beforeInstance), with instance \(instanceThere), start-up \(startUp) µs")
        #expect(guest.wait(seconds: 0) == nil)
    }
}
