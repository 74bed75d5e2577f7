import SystemLibc
import Testing
@testable import EncmonDaemon

/// The decision which `encmon-serve-*` tracefs instances are abandoned, against hand-written
/// per-CPU `stats` texts in the kernel's format, and the reading of `encmon serve` command lines.
@Suite struct AbandonedServeInstancesTests {
    static func stats(entries: Int, overrun: Int = 0, oldest: Double, now: Double) -> String {
        """
        entries: \(entries)
        overrun: \(overrun)
        commit overrun: 0
        bytes: \(entries * 48)
        oldest event ts: \(String(format: oldest))
        now ts: \(String(format: now))
        dropped events: 0
        read events: 0

        """
    }

    static func observation(_ name: String = "encmon-serve-1f2e", age: Double, _ cpus: [String]) -> AbandonedServeInstances.Observation {
        .init(name: name, secondsSinceCreated: age, perCPUStats: cpus)
    }

    @Test func anOldQuietInstanceWithoutADaemonIsAbandoned() {
        let o = Self.observation(age: 700, [Self.stats(entries: 0, oldest: 0, now: 9000), Self.stats(entries: 0, oldest: 0, now: 9000)])
        #expect(AbandonedServeInstances.isAbandoned(o, runningDaemons: [], graceSeconds: 600))
    }

    @Test func aRunningDaemonsInstanceIsKept() {
        let o = Self.observation(age: 7000, [Self.stats(entries: 0, oldest: 0, now: 9000)])
        #expect(!AbandonedServeInstances.isAbandoned(o, runningDaemons: [o.name], graceSeconds: 600))
    }

    @Test func otherNamesAreNeverAbandoned() {
        for name in ["encmon-123-1", "encmon-seed-99", "trace-cmd", "encmon-serv-1"] {
            let o = Self.observation(name, age: 7000, [])
            #expect(!AbandonedServeInstances.isAbandoned(o, runningDaemons: [], graceSeconds: 600), "\(name)")
        }
    }

    @Test func aYoungInstanceIsKeptForARestartingDaemon() {
        let o = Self.observation(age: 599, [Self.stats(entries: 0, oldest: 0, now: 9000)])
        #expect(!AbandonedServeInstances.isAbandoned(o, runningDaemons: [], graceSeconds: 600))
        #expect(AbandonedServeInstances.isAbandoned(o, runningDaemons: [], graceSeconds: 598))
    }

    @Test func recentUnreadEventsAreKeptUnlessSomethingWasOverwritten() {
        let recent = Self.stats(entries: 5, oldest: 8500, now: 9000)
        let quiet = Self.stats(entries: 0, oldest: 0, now: 9000)
        #expect(!AbandonedServeInstances.isAbandoned(Self.observation(age: 5000, [quiet, recent]), runningDaemons: [], graceSeconds: 600))
        // Overwritten events: what is left is incomplete anyway, and the buffer may never go quiet.
        let overwritten = Self.stats(entries: 5, overrun: 12, oldest: 8990, now: 9000)
        #expect(AbandonedServeInstances.isAbandoned(Self.observation(age: 5000, [quiet, overwritten]), runningDaemons: [], graceSeconds: 600))
    }

    @Test func unreadEventsOlderThanTheGraceSayNobodyReads() {
        let stale = Self.stats(entries: 5, oldest: 8000, now: 9000)
        #expect(AbandonedServeInstances.isAbandoned(Self.observation(age: 5000, [stale]), runningDaemons: [], graceSeconds: 600))
    }

    @Test func garbledStatsReadAsQuiet() {
        for text in ["", "entries: lots\nnow ts: nan\n", "oldest event ts: inf\n", ":::\n"] {
            let o = Self.observation(age: 700, [text])
            #expect(AbandonedServeInstances.isAbandoned(o, runningDaemons: [], graceSeconds: 600), "\(text)")
        }
    }

    @Test func serveCommandLines() {
        let dir = { AbandonedServeInstances.serveStateDirectory(commandLine: $0) }
        #expect(dir(["/usr/local/bin/encmon", "serve"]) == "/var/lib/encmon")
        #expect(dir(["encmon", "serve", "--state-dir", "/srv/e", "--socket", "/x"]) == "/srv/e")
        #expect(dir(["./.build/debug/encmon", "serve", "--state-dir=rel/dir"]) == "rel/dir")
        #expect(dir(["encmon", "--vm", "3"]) == nil)
        #expect(dir(["encmon", "replay", "serve"]) == nil)
        #expect(dir(["/usr/bin/python3", "serve", "--state-dir", "/srv/e"]) == nil)
        #expect(dir([]) == nil)
        #expect(dir(["encmon", "serve", "--state-dir"]) == "/var/lib/encmon")
    }

    @Test func theNameOfARunningDaemonMatchesTheOneItUses() {
        // A relative state directory resolves against the daemon's working directory, as the daemon did.
        let mine = TracefsProcessFeed.instanceName(stateDirectory: "state")
        var buffer = [CChar](repeating: 0, count: 4097)
        let cwd = String(cString: getcwd(&buffer, buffer.count))
        #expect(TracefsProcessFeed.instanceName(stateDirectory: "state", workingDirectory: cwd) == mine)
        #expect(TracefsProcessFeed.instanceName(stateDirectory: cwd + "/state", workingDirectory: "/elsewhere") == mine)
        #expect(TracefsProcessFeed.instanceName(stateDirectory: "state", workingDirectory: "/elsewhere") != mine)
    }
}

private extension String {
    init(format value: Double) { self = String(Int64(value)) + ".000000" }
}
