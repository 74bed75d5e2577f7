import SystemLibc
import Foundation
import Testing

/// `encmon --vm PID --event GROUP:NAME` against the real kernel: a uprobe stand-in for
/// kvm:kvm_hypercall (guest hypercalls cannot reach that tracepoint on these hosts) fires in a
/// small program; encmon must show exactly the shared set a page-level model computes, and leave
/// no tracefs instance behind. Root only (CI runs as root).
@Suite(.serialized, .enabled(if: TestTracefs.usable, "needs root and tracefs"))
struct LiveTracingTests {
    static let base: UInt64 = 0x1f000000

    /// Instances this encmon process could have made.
    func instances(of pid: pid_t) -> [String] {
        TestTracefs.instances().filter { $0.hasPrefix("encmon-\(pid)-") }
    }

    @Test func liveJSONLinesShowExactlyTheWatchedProcessesRegions() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let calls = standInSequence(seed: 11, count: 400, base: Self.base)
        // Another process runs the same probe at the same time: its calls must not be counted.
        let otherCalls = standInSequence(seed: 12, count: 200, base: Self.base + 0x4000000)
        var model = SharedPageSet()
        calls.forEach { model.apply($0) }
        #expect(model.accepted > 100 && model.rejected > 0 && model.other > 0)

        let guest = try Child(standIn.program, [try standIn.writeCalls(calls, name: "calls")], tag: "live-guest")
        let other = try Child(standIn.program, [try standIn.writeCalls(otherCalls, name: "other")], tag: "live-other")
        let encmon = try Child(Built.encmon, ["--vm", "\(guest.pid)", "--event", standIn.eventArgument,
                                              "--batch", "--json", "-d", "0.2"], tag: "live-encmon")
        defer { guest.cleanUp(); other.cleanUp(); encmon.cleanUp() }

        try Child.await(seconds: 30, "encmon attached") { encmon.stderr.contains("in tracefs instance") || encmon.wait(seconds: 0) != nil }
        #expect(encmon.stderr.contains("holds no KVM VM"))
        #expect(instances(of: encmon.pid).count == 1)
        guest.send("go\n")
        other.send("go\n")
        #expect(guest.wait(seconds: 30) == 0)
        #expect(other.wait(seconds: 30) == 0)

        // The guest's exit ends the batch run: VM exited, final state printed, instance removed.
        let status = encmon.wait(seconds: 30)
        #expect(status == 0, "\(encmon.stderr)")
        let lines = try jsonLines(encmon.stdout)
        let last = try #require(lines.last)
        #expect(regionStrings(last) == model.regions)
        #expect((last["conversions"] as? NSNumber)?.intValue == model.accepted)
        #expect((last["rejected"] as? NSNumber)?.intValue == model.rejected)
        // The kernel-side filter nr == 12 keeps other hypercalls out of the buffer.
        #expect((last["otherHypercalls"] as? NSNumber)?.intValue == 0)
        #expect((last["lostEvents"] as? NSNumber)?.intValue == 0)
        #expect((last["sharedPages"] as? NSNumber)?.intValue == model.pages.count)
        #expect(last["exited"] as? Bool == true)
        #expect((last["source"] as? [String: Any])?["kind"] as? String == "live")
        let since = try #require(last["since"] as? String)
        #expect(since.count == 20 && since.hasSuffix("Z"))
        // Every line is a complete object with the same keys.
        #expect(lines.allSatisfy { Set($0.keys) == Set(last.keys) })
        #expect(encmon.stderr.contains("exited"))
        #expect(instances(of: encmon.pid).isEmpty)
        standIn.remove()
        #expect(!TestTracefs.uprobeDefinitions().contains(standIn.event))
    }

    @Test(arguments: [SIGTERM, SIGINT, SIGHUP])
    func signalMidRunRemovesTheInstance(signal: Int32) throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let calls = standInSequence(seed: 21, count: 50, base: Self.base)
        let guest = try Child(standIn.program, [try standIn.writeCalls(calls, name: "calls"), "hold"], tag: "live-guest")
        let encmon = try Child(Built.encmon, ["--vm", "\(guest.pid)", "--event", standIn.eventArgument,
                                              "--batch", "--json", "-d", "0.2"], tag: "live-encmon")
        defer { guest.cleanUp(); encmon.cleanUp() }
        try Child.await(seconds: 30, "encmon attached") { encmon.stderr.contains("in tracefs instance") || encmon.wait(seconds: 0) != nil }
        let name = try #require(instances(of: encmon.pid).first)
        guest.send("go\n")
        try Child.await(seconds: 30, "events shown") {
            (try? jsonLines(encmon.stdout))?.last.map { ($0["conversions"] as? NSNumber)?.intValue ?? 0 > 0 } ?? false
        }
        kill(encmon.pid, signal)
        #expect(encmon.wait(seconds: 10) == 128 + signal)
        #expect(access(TestTracefs.root + "/instances/" + name, F_OK) != 0)
        // Still running: the process was watched, not harmed.
        #expect(guest.wait(seconds: 0) == nil)
        guest.closeInput()
        #expect(guest.wait(seconds: 10) == 0)
    }

    /// A burst into a 4 KiB buffer overruns it: every call is either read or counted lost.
    @Test func overrunsAreCountedAsLostEvents() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let calls = (0..<1000).map { i in StandInCall(gpa: Self.base + UInt64(i) << 12, pages: 1, attributes: i % 2 == 0 ? 0 : 0x10) }
        let repeats = 200
        let guest = try Child(standIn.program, [try standIn.writeCalls(calls, name: "calls"), "once", "\(repeats)"], tag: "live-guest")
        let encmon = try Child(Built.encmon, ["--vm", "\(guest.pid)", "--event", standIn.eventArgument, "--buffer-size", "4",
                                              "--batch", "--json", "-d", "0.2"], tag: "live-encmon")
        defer { guest.cleanUp(); encmon.cleanUp() }
        try Child.await(seconds: 30, "encmon attached") { encmon.stderr.contains("in tracefs instance") || encmon.wait(seconds: 0) != nil }
        guest.send("go\n")
        #expect(guest.wait(seconds: 60) == 0)
        #expect(encmon.wait(seconds: 30) == 0, "\(encmon.stderr)")
        let last = try #require(try jsonLines(encmon.stdout).last)
        let read = (last["conversions"] as? NSNumber)?.intValue ?? -1
        let lost = (last["lostEvents"] as? NSNumber)?.intValue ?? -1
        #expect(lost > 0)
        #expect(read + lost == calls.count * repeats, "read \(read), lost \(lost)")
    }

    /// A real KVM VM (scripts/helpers/kvm-out-loop.c) found by its QEMU-style name: its KVM
    /// statistics arrive as counters, and its exit ends the run with the final state.
    @Test(.enabled(if: access("/dev/kvm", R_OK | W_OK) == 0, "needs /dev/kvm"))
    func realVMByNameUntilItExits() throws {
        let dir = "/tmp/encmon-live-vm-\(getpid())"
        mkdir(dir, 0o700)
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let cc = try run("/usr/bin/gcc", ["-O1", "-pthread", "-o", dir + "/vm", Built.repositoryRoot + "/scripts/helpers/kvm-out-loop.c"])
        #expect(cc.status == 0, "\(cc.stderr)")
        let name = "encmon-live-\(getpid())"
        let vm = try Child(dir + "/vm", ["-name", "guest=\(name)"], tag: "vm")
        defer { vm.cleanUp() }
        try Child.await(seconds: 10, "VM ready") { vm.stdout.hasPrefix("ready") }
        let encmon = try Child(Built.encmon, ["--vm", name, "--batch", "--json", "-d", "0.2"], tag: "live-encmon")
        defer { encmon.cleanUp() }
        try Child.await(seconds: 30, "counters shown") {
            (try? jsonLines(encmon.stdout))?.last.map { ($0["events"] as? NSNumber)?.intValue ?? 0 > 0 } ?? false
        }
        #expect(encmon.stderr.contains("kvm:kvm_hypercall"))
        #expect(instances(of: encmon.pid).count == 1)
        kill(vm.pid, SIGKILL)
        #expect(encmon.wait(seconds: 30) == 0, "\(encmon.stderr)")
        let last = try #require(try jsonLines(encmon.stdout).last)
        #expect(last["exited"] as? Bool == true)
        #expect(((last["source"] as? [String: Any])?["name"] as? String)?.contains(name) == true)
        #expect(instances(of: encmon.pid).isEmpty)
    }

    /// The live screen in a private tmux server (scripts/live-tui-e2e.sh): "tracking since", the
    /// regions, q removing the instance, "VM exited" with the final state kept.
    @Test(.enabled(if: access("/usr/bin/tmux", X_OK) == 0, "needs tmux"))
    func liveScreenInTmux() throws {
        let r = try run("/usr/bin/timeout", ["-k", "10", "180", "/bin/bash", Built.repositoryRoot + "/scripts/live-tui-e2e.sh", Built.encmon])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains(" passed, 0 failed"), "\(r.stdout)")
    }

    /// `--vm NAME` on the screen (scripts/live-reattach-e2e.sh): the VM exits, the header says
    /// "VM exited" and "waiting for NAME to return" with the final state kept; a new VM of that
    /// name is attached (new instance, its pid, model reset); a pid run does not wait.
    @Test(.enabled(if: access("/usr/bin/tmux", X_OK) == 0 && access("/dev/kvm", R_OK | W_OK) == 0,
                   "needs tmux and /dev/kvm (the stand-in VM holds a real KVM VM so discovery finds it by name)"))
    func liveScreenReattachesByName() throws {
        let r = try run("/usr/bin/timeout", ["-k", "10", "180", "/bin/bash", Built.repositoryRoot + "/scripts/live-reattach-e2e.sh", Built.encmon])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains(" passed, 0 failed"), "\(r.stdout)")
    }

    @Test func recordWritesAReplayableRecording() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let calls = standInSequence(seed: 31, count: 100, base: Self.base)
        var model = SharedPageSet()
        calls.forEach { model.apply($0) }
        let recording = standIn.directory + "/live.rec"
        let guest = try Child(standIn.program, [try standIn.writeCalls(calls, name: "calls")], tag: "live-guest")
        let encmon = try Child(Built.encmon, ["--vm", "\(guest.pid)", "--event", standIn.eventArgument,
                                              "--batch", "--json", "-d", "0.2", "--record", recording], tag: "live-encmon")
        defer { guest.cleanUp(); encmon.cleanUp() }
        try Child.await(seconds: 30, "encmon attached") { encmon.stderr.contains("in tracefs instance") || encmon.wait(seconds: 0) != nil }
        guest.send("go\n")
        #expect(encmon.wait(seconds: 30) == 0, "\(encmon.stderr)")
        let replay = try run(Built.encmon, ["replay", recording, "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let summary = try #require(try jsonLines(replay.stdout.split(separator: "\n").joined()).first)
        #expect(regionStrings(summary) == model.regions)
    }

    @Test func errorsHaveTheirOwnExitCodes() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let guest = try Child(standIn.program, [try standIn.writeCalls([], name: "calls"), "hold"], tag: "live-guest")
        defer { guest.cleanUp() }
        // An event this kernel does not have.
        let missing = try run(Built.encmon, ["--vm", "\(guest.pid)", "--event", "encmon_nosuch:nosuch", "--batch", "-n", "1"])
        #expect(missing.status == 72)
        #expect(missing.stderr.contains("encmon_nosuch:nosuch"))
        // No such process; a process that holds no VM without --event.
        let gone = try run(Built.encmon, ["--vm", "2147483646", "--batch", "-n", "1"])
        #expect(gone.status == 67)
        let notVM = try run(Built.encmon, ["--vm", "\(guest.pid)", "--batch", "-n", "1"])
        #expect(notVM.status == 68)
        #expect(notVM.stderr.contains("holds no KVM VM"))
        // Not root: tracefs is root-only.
        let noRoot = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Built.encmon,
                                                  "--vm", "\(guest.pid)", "--event", standIn.eventArgument, "--batch", "-n", "1"])
        #expect(noRoot.status == 77, "\(noRoot.stderr)")
        #expect(noRoot.stderr.contains("root"))
        #expect(TestTracefs.instances().filter { $0.hasPrefix("encmon-") && !$0.dropFirst(7).hasPrefix("e2e") }.allSatisfy { name in
            // Only instances of encmon processes still running may exist (other tests' runs).
            let pid = name.split(separator: "-").dropFirst().first.flatMap { Int32($0) } ?? 0
            return kill(pid, 0) == 0
        })
    }

    @Test func staleInstancesOfDeadEncmonsAreRemovedOthersKept() throws {
        // A dead pid (a finished child) and a foreign name.
        let dead = try run("/bin/true", [])
        #expect(dead.status == 0)
        var child = pid_t(0)
        let argv = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        posix_spawn(&child, "/bin/true", nil, nil, argv, nil)
        var st: Int32 = 0
        waitpid(child, &st, 0)
        let stale = "encmon-\(child)-1"
        let foreign = "encmonx-e2e-\(getpid())"
        #expect(mkdir(TestTracefs.root + "/instances/" + stale, 0o755) == 0)
        #expect(mkdir(TestTracefs.root + "/instances/" + foreign, 0o755) == 0)
        defer {
            rmdir(TestTracefs.root + "/instances/" + stale)
            rmdir(TestTracefs.root + "/instances/" + foreign)
        }
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let guest = try Child(standIn.program, [try standIn.writeCalls([], name: "calls"), "hold"], tag: "live-guest")
        defer { guest.cleanUp() }
        let r = try run(Built.encmon, ["--vm", "\(guest.pid)", "--event", standIn.eventArgument, "--batch", "-n", "1", "-d", "0.1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains(stale))
        #expect(access(TestTracefs.root + "/instances/" + stale, F_OK) != 0)
        #expect(access(TestTracefs.root + "/instances/" + foreign, F_OK) == 0)
    }

    /// trace.dat through libtracecmd: the stand-in recorded in an instance by
    /// `trace-cmd extract -B` (trace-cmd record cannot enable ftrace here), replayed by magic.
    @Test(.enabled(if: access("/usr/bin/trace-cmd", X_OK) == 0, "needs trace-cmd"))
    func traceDatFromTraceCmdExtractReplaysToTheSameRegions() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let instance = "encmon-e2e-dat-\(getpid())"
        let dir = TestTracefs.root + "/instances/" + instance
        #expect(mkdir(dir, 0o755) == 0)
        defer { rmdir(dir) }
        let enable = "\(dir)/events/\(standIn.group)/\(standIn.event)/enable"
        try "1".write(toFile: enable, atomically: false, encoding: .utf8)
        // Two runs pinned to two CPUs, so the file holds events from more than one CPU buffer.
        let callsA = standInSequence(seed: 41, count: 150, base: Self.base)
        let callsB = standInSequence(seed: 42, count: 150, base: Self.base)
        var model = SharedPageSet()
        let cpus = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        for (i, calls) in [callsA, callsB].enumerated() {
            calls.forEach { model.apply($0) }
            let path = try standIn.writeCalls(calls, name: "calls\(i)")
            let r = try run("/usr/bin/taskset", ["-c", "\(i % cpus)", standIn.program, path], input: "go\n")
            #expect(r.status == 0)
        }
        try? "0".write(toFile: enable, atomically: false, encoding: .utf8)
        let file = standIn.directory + "/capture.bin"  // not named .dat: detected by magic
        let extract = try run("/usr/bin/trace-cmd", ["extract", "-B", instance, "-o", file])
        #expect(extract.status == 0, "\(extract.stderr)")
        let replay = try run(Built.encmon, ["replay", file, "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let summary = try #require(try jsonLines(replay.stdout.split(separator: "\n").joined()).first)
        model.expectSummary(summary)
        // The text summary reads the same file.
        let text = try run(Built.encmon, ["replay", file, "--summary"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("\(model.pages.count)"))
    }
}
