import SystemLibc
import Foundation
import Testing
import TestSupport

/// A trace.dat whose events sit in the top-level buffer and come from two CPUs, made without
/// touching the host's top-level tracing state: the uprobe stand-in fires in a private instance,
/// alternately pinned to CPU 0 and CPU 1 with overlapping ranges (so only a time-ordered merge of
/// the CPUs gives the model's regions), each CPU's raw ring-buffer pages are read from the
/// instance's `per_cpu/cpuN/trace_pipe_raw`, and `trace-cmd restore` builds the file from them:
/// `restore -c` reads the host's formats (read-only opens), `restore -i` writes the CPU files as
/// the file's top-level buffer.
@Suite(.serialized, .enabled(if: TestTracefs.usable && access("/usr/bin/trace-cmd", X_OK) == 0
                             && sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2,
                             "needs root, tracefs, trace-cmd and two online CPUs"))
struct TraceDatTopLevelTests {
    /// Reads what a CPU's buffer holds now (pages, the last one partial) without waiting.
    static func drainRawPages(_ path: String) throws -> Data {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SpawnError(path: path, code: errno) }
        defer { close(fd) }
        var data = Data()
        var page = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = page.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }   // EAGAIN: empty
            data.append(contentsOf: page[..<n])
        }
        return data
    }

    @Test func topLevelBufferFromTwoCPUsReplaysInTimeOrder() throws {
        let standIn = try UprobeStandIn()
        defer { standIn.remove() }
        let instance = "encmon-e2e-top-\(getpid())"
        let dir = TestTracefs.root + "/instances/" + instance
        #expect(mkdir(dir, 0o755) == 0)
        defer { rmdir(dir) }
        let topLevelBefore = try TopLevelTracing.read()
        let enable = "\(dir)/events/\(standIn.group)/\(standIn.event)/enable"
        try "1".write(toFile: enable, atomically: false, encoding: .utf8)
        var model = SharedPageSet()
        // Four rounds over the same 256 pages, CPU 0, 1, 0, 1: later rounds overwrite earlier ones.
        for round in 0..<4 {
            let calls = standInSequence(seed: 50 + UInt64(round), count: 80, base: 0x1f000000)
            calls.forEach { model.apply($0) }
            let path = try standIn.writeCalls(calls, name: "calls\(round)")
            let r = try run("/usr/bin/taskset", ["-c", "\(round % 2)", standIn.program, path], input: "go\n")
            #expect(r.status == 0)
        }
        try "0".write(toFile: enable, atomically: false, encoding: .utf8)
        // CPU 0's buffer then CPU 1's, unmerged, would give other regions.
        var unmerged = SharedPageSet()
        for round in [0, 2, 1, 3] { standInSequence(seed: 50 + UInt64(round), count: 80, base: 0x1f000000).forEach { unmerged.apply($0) } }
        #expect(unmerged.regions != model.regions, "the rounds must overlap so that CPU order matters")
        var cpuFiles: [String] = []
        for cpu in 0..<2 {
            let raw = try Self.drainRawPages("\(dir)/per_cpu/cpu\(cpu)/trace_pipe_raw")
            #expect(!raw.isEmpty, "CPU \(cpu) recorded nothing")
            let file = standIn.directory + "/cpu\(cpu).raw"
            try raw.write(to: URL(fileURLWithPath: file))
            cpuFiles.append(file)
        }
        let head = standIn.directory + "/head.dat", file = standIn.directory + "/top.dat"
        let create = try run("/usr/bin/trace-cmd", ["restore", "-c", "-o", head])
        #expect(create.status == 0, "\(create.stderr)")
        let restore = try run("/usr/bin/trace-cmd", ["restore", "-i", head, "-o", file] + cpuFiles)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try TopLevelTracing.read() == topLevelBefore, "the top-level tracing state changed")

        // The file's only buffer is the top-level one ("") with two CPUs, and both have events.
        let dump = try run("/usr/bin/trace-cmd", ["dump", "--summary", "-i", file])
        let buffers = dump.stdout.split(separator: "\n").filter { $0.contains("[buffer ") }
        #expect(buffers.count == 1 && buffers[0].contains("[buffer \"\",") && buffers[0].contains("2 cpus"), "\(dump.stdout)")
        let report = try run("/usr/bin/trace-cmd", ["report", file])
        #expect(report.stdout.contains("[000]") && report.stdout.contains("[001]"))

        let replay = try run(Built.encmon, ["replay", file, "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let summary = try #require(try jsonLines(replay.stdout.split(separator: "\n").joined()).first)
        model.expectSummary(summary)
    }
}

/// The top-level tracing files a test could disturb, read to prove it did not.
struct TopLevelTracing: Equatable {
    var files: [String: String]

    static let watched = ["tracing_on", "current_tracer", "set_event", "set_event_pid", "buffer_size_kb", "trace_clock"]

    static func read() throws -> TopLevelTracing {
        var files: [String: String] = [:]
        for name in watched { files[name] = (try? readFile(TestTracefs.root + "/" + name)) ?? "<unreadable>" }
        return TopLevelTracing(files: files)
    }
}
