import SystemLibc
import CTracefs
import Foundation
import Synchronization
import Testing
@testable import LiveHost

/// Why an instance could stay busy at removal (EBUSY for seconds in a CI run): the kernel refuses
/// to remove an instance while any of its files is open, and libtracefs opens instance files
/// without O_CLOEXEC, so a child spawned by the same process at that moment keeps the file, and the
/// instance busy, for its whole life. A thread here spawns long-lived children without closing
/// anything, as any supervisor or test runner might, while the main thread reads and writes
/// instance files in a loop; then the children's descriptors are counted.
@Suite(.serialized, .enabled(if: getuid() == 0 && LiveHost.tracingDirectory != nil, "needs root and tracefs"))
struct TracefsDescriptorLeakTests {
    /// Spawns `sleep 30` children until `stop`, then returns their pids.
    final class Spawner: Sendable {
        let stop = Atomic<Bool>(false)
        let pids = Mutex<[pid_t]>([])

        func run() {
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("30"), nil]
            defer { argv.forEach { free($0) } }
            while !stop.load(ordering: .relaxed) {
                var pid: pid_t = 0
                if posix_spawn(&pid, "/bin/sleep", nil, nil, argv, nil) == 0 { pids.withLock { $0.append(pid) } }
                if pids.withLock({ $0.count }) >= 200 { return }
            }
        }
    }

    /// Descriptors of the spawned children that point into `directory`.
    func leaked(into directory: String, children: [pid_t]) -> Int {
        children.reduce(0) { sum, pid in
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return sum + fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)"))?.hasPrefix(directory) == true }.count
        }
    }

    func withSpawningThread(_ body: () throws -> Void) rethrows -> [pid_t] {
        let spawner = Spawner()
        let thread = Thread { spawner.run() }
        thread.start()
        defer {
            spawner.stop.store(true, ordering: .relaxed)
            while !thread.isFinished { usleep(1000) }
        }
        try body()
        spawner.stop.store(true, ordering: .relaxed)
        while !thread.isFinished { usleep(1000) }
        return spawner.pids.withLock { $0 }
    }

    func reap(_ children: [pid_t]) {
        for pid in children {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    @Test func instanceFilesAreNeverInheritedAndTheInstanceIsRemovedAtOnce() throws {
        let instance = try TracefsInstance()
        let children = try withSpawningThread {
            for _ in 0..<3000 {
                _ = instance.read("trace_clock")
                try instance.write("1", to: "tracing_on")
                _ = instance.read("per_cpu/cpu0/stats")
            }
        }
        defer { reap(children) }
        #expect(children.count > 20, "the spawning thread made only \(children.count) children")
        #expect(leaked(into: instance.directory, children: children) == 0)
        // With the children still running, removal succeeds on the first try.
        let h = try #require(instance.handle)
        errno = 0
        #expect(tracefs_instance_destroy(h) == 0, "rmdir: \(String(cString: strerror(errno)))")
        #expect(!tracefs_instance_exists(instance.name))
        instance.destroy()
    }

    /// The cause, shown: the same loop through libtracefs' own file calls leaks descriptors into
    /// children, which keep the instance busy until they exit.
    @Test func libtracefsFileCallsLeakIntoChildren() throws {
        let instance = try TracefsInstance()
        let h = try #require(instance.handle)
        let children = withSpawningThread {
            var size: Int32 = 0
            for _ in 0..<3000 {
                free(tracefs_instance_file_read(h, "trace_clock", &size))
                _ = tracefs_instance_file_write(h, "tracing_on", "1")
            }
        }
        #expect(leaked(into: instance.directory, children: children) > 0)
        errno = 0
        #expect(tracefs_instance_destroy(h) != 0 && errno == EBUSY)
        reap(children)
        instance.destroy()
        #expect(!tracefs_instance_exists(instance.name))
    }
}
