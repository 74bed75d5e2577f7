import SystemLibc
import Foundation
import Testing

/// `encmon serve --event GROUP:NAME` on the real kernel: one tracefs instance without a pid
/// filter, events attributed by the firing thread's process. Two stand-in processes run the same
/// uprobe (kvm:kvm_hypercall's field names); each must get exactly the shared set a page-level
/// model computes from its own calls, and SIGTERM must remove the instance. Root only.
@Suite(.serialized, .enabled(if: TestTracefs.usable, "needs root and tracefs"))
struct DaemonTracefsTests {
    static let base: UInt64 = 0x2f000000

    @Test func everyProcessFiringTheEventGetsItsOwnExactModel() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let tmp = TemporaryDirectory("daemon-tracefs")
        let daemon = DaemonUnderTest(directory: tmp.path)
        let name = try daemon.startTracing(standIn)
        defer { if daemon.process?.exitStatus == nil { _ = daemon.stop() } }
        defer { TestTracefs.removeInstance(name) }
        let ours = { TestTracefs.instances().filter { $0 == name } }
        #expect(ours().count == 1, "one instance for all processes: \(TestTracefs.instances())")

        // Two processes, overlapping address ranges: attribution must keep them apart.
        let calls = [standInSequence(seed: 51, count: 300, base: Self.base),
                     standInSequence(seed: 52, count: 200, base: Self.base)]
        var models = [SharedPageSet(), SharedPageSet()]
        for k in 0..<2 { calls[k].forEach { models[k].apply($0) } }
        #expect(models[0].accepted > 100 && models[0].rejected > 0 && models[0].other > 0)
        #expect(models[0].regions != models[1].regions)
        let guests = try (0..<2).map { k in
            try Child(standIn.program, [try standIn.writeCalls(calls[k], name: "calls\(k)"), "hold"], tag: "guest\(k)")
        }
        defer { guests.forEach { $0.cleanUp() } }
        for g in guests { g.send("go\n") }
        try Child.await(seconds: 30, "stand-ins done") { guests.allSatisfy { $0.stdout.contains("done") } }

        try Self.expectExactModels(daemon: daemon, pids: guests.map(\.pid), models: models)

        // SIGTERM: the daemon exits 0 and removes its instance; then the uprobe can go.
        #expect(daemon.stop() == 0, "\(daemon.process?.stderr ?? "")")
        #expect(ours().isEmpty, "instance left: \(TestTracefs.instances())")
        guests.forEach { $0.cleanUp() }
        standIn.remove()
        #expect(!TestTracefs.uprobeDefinitions().contains(standIn.event))
    }

    /// SIGKILL leaves the instance (named after the state directory) tracing; a process that fires
    /// while no daemon runs is read by the restarted daemon, exactly.
    @Test func eventsFiredWhileTheDaemonWasKilledAreReadAfterTheRestart() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let tmp = TemporaryDirectory("daemon-tracefs-restart")
        let daemon = DaemonUnderTest(directory: tmp.path)
        let name = try daemon.startTracing(standIn)
        defer { if daemon.process?.exitStatus == nil { _ = daemon.stop() } }
        defer { TestTracefs.removeInstance(name) }

        let calls = [standInSequence(seed: 61, count: 150, base: Self.base),
                     standInSequence(seed: 62, count: 150, base: Self.base)]
        var models = [SharedPageSet(), SharedPageSet()]
        for k in 0..<2 { calls[k].forEach { models[k].apply($0) } }
        let guests = try (0..<2).map { k in
            try Child(standIn.program, [try standIn.writeCalls(calls[k], name: "calls\(k)"), "hold"], tag: "rguest\(k)")
        }
        defer { guests.forEach { $0.cleanUp() } }
        guests[0].send("go\n")
        _ = try daemon.waitForEvents(pid: guests[0].pid, UInt64(models[0].accepted + models[0].rejected))
        daemon.kill9()
        #expect(TestTracefs.instances().contains(name), "the instance outlives a killed daemon")
        guests[1].send("go\n")  // while no daemon runs
        try Child.await(seconds: 30, "stand-in done") { guests[1].stdout.contains("done") }
        try daemon.start()
        #expect(daemon.process?.stderr.contains("kept from an earlier run") == true, "\(daemon.process?.stderr ?? "")")
        try Self.expectExactModels(daemon: daemon, pids: guests.map(\.pid), models: models)
        #expect(daemon.stop() == 0)
        #expect(!TestTracefs.instances().contains(name))
    }

    static func expectExactModels(daemon: DaemonUnderTest, pids: [Int32], models: [SharedPageSet]) throws {
        for k in pids.indices {
            // nr != 12 never reaches the buffer (kernel filter): the daemon sees accepted + rejected.
            let expected = UInt64(models[k].accepted + models[k].rejected)
            let info = try daemon.waitForEvents(pid: pids[k], expected)
            #expect(info?.events == expected, "pid \(pids[k]): \(String(describing: info))")
            let json = try run(Built.encmon, ["--connect", daemon.socket, "--vm", String(pids[k]), "--json"])
            #expect(json.status == 0, "\(json.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any],
                                       "not one JSON object: \(json.stdout.prefix(300))")
            #expect(regionStrings(summary) == models[k].regions)
            #expect((summary["conversions"] as? NSNumber)?.intValue == models[k].accepted)
            #expect((summary["rejected"] as? NSNumber)?.intValue == models[k].rejected)
            #expect((summary["sharedPages"] as? NSNumber)?.intValue == models[k].pages.count)
            #expect((summary["lostEvents"] as? NSNumber)?.intValue == 0)
        }
    }

    @Test func aMissingEventExitsWithOneLineAndNoInstance() throws {
        let tmp = TemporaryDirectory("daemon-tracefs-missing")
        let r = try run(Built.encmon, ["serve", "--socket", tmp.path + "/s.sock", "--state-dir", tmp.path + "/state",
                                       "--event", "encmon_no_such_group:no_such_event"])
        #expect(r.status == 72, "\(r.stderr)")
        #expect(r.stderr.contains("encmon_no_such_group:no_such_event does not exist"))
        #expect(!TestTracefs.instances().contains { $0.hasPrefix("encmon-") && !TestTracefs.instanceOwnerAlive($0) })
    }
}

extension DaemonUnderTest {
    /// The tracefs instance the daemon named in its start line (`(instance NAME)`).
    var instanceName: String? {
        guard let err = process?.stderr, let r = err.range(of: "(instance ", options: .backwards) else { return nil }
        return String(err[r.upperBound...].prefix { $0 != ")" })
    }

    /// Starts the daemon on the stand-in's tracefs event and returns its instance's name; a daemon
    /// that names none is stopped again and the test fails here.
    func startTracing(_ standIn: UprobeStandIn) throws -> String {
        feedArguments = ["--event", standIn.eventArgument]
        try start()
        do {
            return try #require(instanceName, "\(process?.stderr ?? "")")
        } catch {
            _ = stop()
            throw error
        }
    }
}

extension TestTracefs {
    /// Removes a test's instance if a failed test left it.
    static func removeInstance(_ name: String) {
        if instances().contains(name) { rmdir(root + "/instances/" + name) }
    }

    /// Whether the encmon process named in instance `encmon-<pid>-<n>` still runs.
    static func instanceOwnerAlive(_ name: String) -> Bool {
        let parts = name.split(separator: "-")
        guard parts.count == 3, let pid = Int32(parts[1]) else { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}
