import SystemLibc
import CTracefs
import Foundation
import MonitorCore
import Testing
@testable import LiveHost

@Suite struct TracefsPiecesTests {
    @Test func ringBufferStatsReadOverrunAndDropped() {
        let text = """
            entries: 12
            overrun: 1043
            commit overrun: 0
            bytes: 4032
            oldest event ts:  1511.229399
            now ts:  1600.000001
            dropped events: 7
            read events: 99
            """
        let s = RingBufferStats(statsText: text)
        #expect(s == RingBufferStats(overrun: 1043, dropped: 7))
        #expect(s?.lost == 1050)
        #expect(RingBufferStats(statsText: "entries: 1\n") == nil)
        #expect(RingBufferStats(statsText: "overrun: x\n") == nil)
    }

    @Test func instanceNamesCarryTheOwnerPid() {
        #expect(TracefsInstance.ownerPid(ofInstanceNamed: "encmon-4242-1") == 4242)
        #expect(TracefsInstance.ownerPid(ofInstanceNamed: "encmon-4242-17") == 4242)
        for other in ["encmon", "encmon-", "encmon-x-1", "encmon-4242", "encmon-4242-1-2", "encmon-e2e-dat-5",
                      "encmon--1-1", "encmon-0-1", "trace-cmd", "encmonx-1-1"] {
            #expect(TracefsInstance.ownerPid(ofInstanceNamed: other) == nil, "\(other)")
        }
    }

    @Test func eventArgumentsAreSystemAndName() {
        #expect(WatchedEvent(hypercallLike: "uprobes:hc") == WatchedEvent(system: "uprobes", name: "hc", role: .hypercall))
        #expect(WatchedEvent(hypercallLike: "kvm/kvm_hypercall")?.description == "kvm:kvm_hypercall")
        for bad in ["", "kvm", "kvm:", ":x", "a:b:c", "../x:y", "a:..", "a b:c", "a:b/c"] {
            #expect(WatchedEvent(hypercallLike: bad) == nil, "\(bad)")
        }
        #expect(WatchedEvent.kvmHypercall.filter == "nr == 12")
        #expect(WatchedEvent.snpPageStateChange.filter == nil)
    }

    @Test func vcpuIndexFromQEMUThreadNames() {
        #expect(TracedProcess.vcpuIndex(threadName: "CPU 0/KVM") == 0)
        #expect(TracedProcess.vcpuIndex(threadName: "CPU 31/KVM") == 31)
        for other in ["CPU /KVM", "CPU x/KVM", "qemu-system-x86", "CPU 1/TCG", "CPU 9999999999/KVM", ""] {
            #expect(TracedProcess.vcpuIndex(threadName: other) == -1, "\(other)")
        }
    }

    @Test func ourOwnProcessIsRunningAndHasThreads() {
        #expect(TracedProcess.isRunning(getpid()))
        #expect(TracedProcess.threads(of: getpid()).contains(getpid()))
        #expect(!TracedProcess.isRunning(Int32.max - 1))
        #expect(TracedProcess.threads(of: Int32.max - 1).isEmpty)
    }
}

/// The instance wrapper against the real tracefs (root only).
@Suite(.serialized, .enabled(if: getuid() == 0 && LiveHost.tracingDirectory != nil, "needs root and tracefs"))
struct TracefsInstanceTests {
    @Test func createSetClockDestroy() throws {
        let instance = try TracefsInstance()
        let dir = try #require(LiveHost.tracingDirectory) + "/instances/" + instance.name
        #expect(instance.name.hasPrefix("encmon-\(getpid())-"))
        #expect(FileManager.default.fileExists(atPath: dir))
        try instance.setClock("mono")
        #expect(instance.read("trace_clock")?.contains("[mono]") == true)
        #expect(throws: TracefsError.self) { try instance.enable(system: "encmon_nosuch", event: "nosuch") }
        instance.destroy()
        #expect(!FileManager.default.fileExists(atPath: dir))
        instance.destroy()  // idempotent
    }

    @Test func deinitRemovesTheInstance() throws {
        var name = ""
        do {
            let instance = try TracefsInstance()
            name = instance.name
            #expect(tracefs_instance_exists(name))
        }
        #expect(!tracefs_instance_exists(name))
    }
}
