import SystemLibc
import Foundation
import Testing

/// A daemon killed for good leaves its `encmon-serve-<hash>` instance tracing; the next
/// `encmon --vm` (or `encmon serve`) removes it once the grace period is over, and leaves a
/// running daemon's instance alone. Real tracefs, a real daemon, the real binary. Root only.
/// In `DaemonTracefsTests` (serialized): with a 2 s grace these runs would remove the instance of
/// that suite's killed-and-restarted daemon if they ran during its gap.
extension DaemonTracefsTests {
    /// Short, so the test need not wait ten minutes.
    static let abandonedInstanceGrace = 2.0

    @Test func encmonVMRemovesADeadDaemonsInstanceAndKeepsALiveOnes() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        // A daemon that crashed for good: its instance, tracing on, with no `encmon serve` left.
        let tmp = TemporaryDirectory("abandoned-serve")
        let dead = DaemonUnderTest(directory: tmp.path + "/dead")
        let deadName = try dead.startTracing(standIn)
        defer { TestTracefs.removeInstance(deadName) }
        dead.kill9()
        #expect(TestTracefs.instances().contains(deadName))
        // A daemon that runs, with the same event.
        let live = DaemonUnderTest(directory: tmp.path + "/live")
        let liveName = try live.startTracing(standIn)
        defer { if live.process?.exitStatus == nil { _ = live.stop() } }
        defer { TestTracefs.removeInstance(liveName) }
        #expect(liveName != deadName)

        let guest = try Child(standIn.program, [try standIn.writeCalls([], name: "calls"), "hold"], tag: "abandoned-guest")
        defer { guest.cleanUp() }
        let watch = ["--vm", "\(guest.pid)", "--event", standIn.eventArgument, "--batch", "-n", "1", "-d", "0.1"]

        // Within the grace period both stay (a restarting daemon would still want its buffer).
        let early = try run(Built.encmon, watch, environment: ["ENCMON_SERVE_INSTANCE_GRACE": "600"])
        #expect(early.status == 0, "\(early.stderr)")
        #expect(TestTracefs.instances().contains(deadName))

        usleep(UInt32(Self.abandonedInstanceGrace * 1.5 * 1e6))
        let later = try run(Built.encmon, watch, environment: ["ENCMON_SERVE_INSTANCE_GRACE": "\(Self.abandonedInstanceGrace)"])
        #expect(later.status == 0, "\(later.stderr)")
        #expect(later.stderr.contains("removed tracefs instances of encmon daemons that no longer run: \(deadName)"), "\(later.stderr)")
        #expect(!TestTracefs.instances().contains(deadName), "\(TestTracefs.instances())")
        #expect(TestTracefs.instances().contains(liveName), "a running daemon's instance was removed")

        // The live daemon still works and removes its own instance on SIGTERM.
        #expect(live.stop() == 0, "\(live.process?.stderr ?? "")")
        #expect(!TestTracefs.instances().contains(liveName))
        guest.cleanUp()
        standIn.remove()
        #expect(!TestTracefs.uprobeDefinitions().contains(standIn.event))
    }

    /// `encmon serve` cleans up at start too, and keeps its own instance (found by its own
    /// command line) so that a restart still reads the gap.
    @Test func serveRemovesAbandonedInstancesButReusesItsOwn() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let tmp = TemporaryDirectory("abandoned-serve-2")
        let other = DaemonUnderTest(directory: tmp.path + "/other")
        let otherName = try other.startTracing(standIn)
        defer { TestTracefs.removeInstance(otherName) }
        other.kill9()
        let daemon = DaemonUnderTest(directory: tmp.path + "/self")
        let ownName = try daemon.startTracing(standIn)
        defer { TestTracefs.removeInstance(ownName) }
        daemon.kill9()
        usleep(UInt32(Self.abandonedInstanceGrace * 1.5 * 1e6))

        daemon.environment = ["ENCMON_SERVE_INSTANCE_GRACE=\(Self.abandonedInstanceGrace)"]
        try daemon.start()
        defer { if daemon.process?.exitStatus == nil { _ = daemon.stop() } }
        let err = daemon.process?.stderr ?? ""
        #expect(err.contains("removed tracefs instances of encmon daemons that no longer run: \(otherName)"), "\(err)")
        #expect(err.contains("kept from an earlier run"), "\(err)")
        #expect(!TestTracefs.instances().contains(otherName))
        #expect(daemon.stop() == 0)
        #expect(!TestTracefs.instances().contains(ownName))
    }
}
