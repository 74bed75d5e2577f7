import SystemLibc
import Foundation
import Testing
import TestSupport

/// tracefs as the tests see it (mounted by `TracefsAvailability` when root).
enum TestTracefs {
    static let root = "/sys/kernel/tracing"

    /// Root, and tracefs mounted (mounting it if needed, as the host is left otherwise as found).
    static let usable: Bool = {
        guard getuid() == 0 else { return false }
        if access(root + "/uprobe_events", F_OK) == 0 { return true }
        _ = mount("nodev", root, "tracefs", 0, nil)
        return access(root + "/uprobe_events", F_OK) == 0
    }()

    static func append(_ line: String, to file: String) -> Bool {
        let fd = open(root + "/" + file, O_WRONLY | O_APPEND)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    static func instances() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: root + "/instances")) ?? []
    }

    static func uprobeDefinitions() -> String { (try? readFile(root + "/uprobe_events")) ?? "" }
}

/// One call the stand-in guest makes: f(nr, a0, a1, a2, 0), as a guest's MAP_GPA_RANGE hypercall.
struct StandInCall {
    var nr: UInt64 = 12
    var gpa: UInt64
    var pages: UInt64
    var attributes: UInt64

    var line: String { "\(String(nr, radix: 16)) \(String(gpa, radix: 16)) \(String(pages, radix: 16)) \(String(attributes, radix: 16)) 0" }
}

/// The reference model: the shared set as a set of page numbers, applying only what KVM accepts
/// (nr 12, page-aligned gpa, at least one page, attributes in bits 4:0).
struct SharedPageSet {
    var pages: Set<UInt64> = []
    var accepted = 0, rejected = 0, other = 0

    mutating func apply(_ c: StandInCall) {
        guard c.nr == 12 else { other += 1; return }
        guard c.gpa & 0xfff == 0, c.pages > 0, c.attributes & ~0x1f == 0 else { rejected += 1; return }
        accepted += 1
        let first = c.gpa >> 12
        for p in first..<(first + c.pages) {
            if c.attributes & 0x10 != 0 { pages.remove(p) } else { pages.insert(p) }
        }
    }

    /// A replay's JSON summary of this model's calls: the same regions and counts, nothing lost.
    func expectSummary(_ summary: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(regionStrings(summary) == regions, sourceLocation: sourceLocation)
        #expect((summary["conversions"] as? NSNumber)?.intValue == accepted, sourceLocation: sourceLocation)
        #expect((summary["rejected"] as? NSNumber)?.intValue == rejected, sourceLocation: sourceLocation)
        #expect((summary["otherHypercalls"] as? NSNumber)?.intValue == other, sourceLocation: sourceLocation)
        #expect((summary["lostEvents"] as? NSNumber)?.intValue == 0, sourceLocation: sourceLocation)
    }

    /// Coalesced regions as the JSON prints them: `0x…` start address and page count.
    var regions: [String] {
        var out: [String] = []
        var start: UInt64?, prev: UInt64 = 0, count: UInt64 = 0
        for p in pages.sorted() {
            if let _ = start, p == prev + 1 { count += 1; prev = p; continue }
            if let s = start { out.append("0x\(String(s << 12, radix: 16)):\(count)") }
            start = p; prev = p; count = 1
        }
        if let s = start { out.append("0x\(String(s << 12, radix: 16)):\(count)") }
        return out
    }
}

/// A deterministic call sequence: overlapping, adjacent and nested conversions over a small span,
/// with some calls KVM rejects and some other hypercall numbers.
func standInSequence(seed: UInt64, count: Int, base: UInt64) -> [StandInCall] {
    var state = seed
    func next() -> UInt64 {  // SplitMix64
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
    var calls: [StandInCall] = []
    for _ in 0..<count {
        let gfn = next() % 256
        var call = StandInCall(gpa: base + gfn << 12, pages: 1 + next() % 16, attributes: next() % 3 == 0 ? 0x10 : 0)
        switch next() % 20 {
        case 0: call.gpa += 0x800            // unaligned: rejected
        case 1: call.pages = 0               // zero pages: rejected
        case 2: call.nr = 9                  // another hypercall
        case 3: call.attributes |= 1         // 2M size hint: still valid
        default: break
        }
        calls.append(call)
    }
    return calls
}

/// A small C program whose non-inlined `f(nr, a0, a1, a2, a3)` carries a uprobe with
/// kvm_hypercall's field names. It waits for a line on stdin, makes the calls listed in its
/// argument file, then (with `hold`) waits for stdin to close before exiting.
final class UprobeStandIn {
    let directory: String
    let program: String
    let group = "encmon_live_e2e"
    let event: String
    private var defined = false

    init() throws {
        directory = "/tmp/encmon-live-e2e-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(directory, 0o700)
        program = directory + "/standin"
        event = "hc_\(getpid())_\(UInt16.random(in: 0...UInt16.max))"
        let source = """
            #include <stdint.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            __attribute__((noinline)) void f(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
              __asm__ volatile("" ::: "memory");
            }
            int main(int argc, char **argv) {
              char line[64];
              if (argc < 2 || !fgets(line, sizeof line, stdin)) return 2;
              FILE *in = fopen(argv[1], "r");
              if (!in) return 3;
              unsigned long long nr, a0, a1, a2, a3;
              /* argv[3]: repeat the list that many times (bursts for the overrun test). */
              long repeat = argc > 3 ? atol(argv[3]) : 1;
              unsigned long long calls[4096][5];
              int n = 0;
              while (n < 4096 && fscanf(in, "%llx %llx %llx %llx %llx", &nr, &a0, &a1, &a2, &a3) == 5) {
                calls[n][0] = nr; calls[n][1] = a0; calls[n][2] = a1; calls[n][3] = a2; calls[n][4] = a3; n++;
              }
              fclose(in);
              for (long r = 0; r < repeat; r++)
                for (int i = 0; i < n; i++) f(calls[i][0], calls[i][1], calls[i][2], calls[i][3], calls[i][4]);
              printf("done\\n");
              fflush(stdout);
              if (argc > 2 && strcmp(argv[2], "hold") == 0) while (fgets(line, sizeof line, stdin)) {}
              return 0;
            }
            """
        try source.write(toFile: directory + "/standin.c", atomically: true, encoding: .utf8)
        let cc = try run("/usr/bin/gcc", ["-O1", "-o", program, directory + "/standin.c"])
        guard cc.status == 0 else { throw StandInError.compile(cc.stderr) }
        let offset = try Self.fileOffset(of: "f", in: program)
        let definition = "p:\(group)/\(event) \(program):0x\(String(offset, radix: 16)) nr=%di:u64 a0=%si:u64 a1=%dx:u64 a2=%cx:u64 a3=%r8:u64"
        guard TestTracefs.append(definition, to: "uprobe_events") else { throw StandInError.uprobe(definition) }
        defined = true
    }

    var eventArgument: String { "\(group):\(event)" }

    func writeCalls(_ calls: [StandInCall], name: String) throws -> String {
        let path = directory + "/" + name
        try calls.map(\.line).joined(separator: "\n").appending("\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Removes the uprobe (after every instance using it is gone) and the files.
    func remove() {
        if defined { _ = TestTracefs.append("-:\(group)/\(event)", to: "uprobe_events"); defined = false }
        _ = try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { remove() }

    /// File offset of `symbol`: its address minus its LOAD segment's address plus the segment's offset.
    static func fileOffset(of symbol: String, in path: String) throws -> UInt64 {
        let nm = try run("/usr/bin/nm", [path])
        var found: UInt64?
        for line in nm.stdout.split(separator: "\n") {
            let f: [Substring] = line.split(separator: " ")
            if f.count == 3, String(f[2]) == symbol { found = UInt64(f[0], radix: 16) }
        }
        guard let address = found else { throw StandInError.symbol(symbol) }
        let readelf = try run("/usr/bin/readelf", ["-lW", path])
        for line in readelf.stdout.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.first == "LOAD", f.count >= 5, let off = UInt64(f[1].dropFirst(2), radix: 16),
                  let vaddr = UInt64(f[2].dropFirst(2), radix: 16), let size = UInt64(f[4].dropFirst(2), radix: 16) else { continue }
            if vaddr <= address && address < vaddr + size { return address - vaddr + off }
        }
        throw StandInError.symbol(symbol)
    }
}

enum StandInError: Error { case compile(String), uprobe(String), symbol(String), timeout(String) }

/// A child process with a pipe on stdin and files for stdout and stderr, signals unblocked.
final class Child {
    let pid: pid_t
    private var stdinFD: Int32
    let outPath: String, errPath: String
    private(set) var exitStatus: Int32?

    init(_ path: String, _ args: [String], tag: String) throws {
        outPath = "/tmp/encmon-child-\(getpid())-\(tag).out"
        errPath = "/tmp/encmon-child-\(getpid())-\(tag).err"
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnError(path: path, code: errno) }
        let env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "HOME=/tmp", "TERM=dumb"]
        do {
            pid = try spawnWithDefaultSignals(path, args, environment: env) { [outPath, errPath] actions in
                posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
                posix_spawn_file_actions_addclose(&actions, fds[1])
                posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            }
        } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[0])
        stdinFD = fds[1]
    }

    func send(_ line: String) {
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(stdinFD, $0.baseAddress, $0.count) }
    }

    func closeInput() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    var stdout: String { (try? readFile(outPath)) ?? "" }
    var stderr: String { (try? readFile(errPath)) ?? "" }

    /// Waits up to `seconds` for the child to exit; nil when it is still running.
    @discardableResult
    func wait(seconds: Double) -> Int32? {
        if let exitStatus { return exitStatus }
        let end = Date().addingTimeInterval(seconds)
        repeat {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                return exitStatus
            }
            usleep(20_000)
        } while Date() < end
        return nil
    }

    /// Polls until `condition` holds, up to `seconds`.
    static func await(seconds: Double, _ what: String, _ condition: () -> Bool) throws {
        let end = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < end else { throw StandInError.timeout(what) }
            usleep(20_000)
        }
    }

    /// Ends the child if a failed test left it running, and removes its files.
    func cleanUp() {
        closeInput()
        if wait(seconds: 0) == nil { kill(pid, SIGKILL); wait(seconds: 5) }
        unlink(outPath); unlink(errPath)
    }
}

/// The JSON Lines of a live run, parsed.
func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }
}

/// `regions` of a JSON summary as `0x…:pages` strings, in order.
func regionStrings(_ object: [String: Any]) -> [String] {
    ((object["regions"] as? [[String: Any]]) ?? []).map { "\($0["gpa"] as? String ?? "?"):\(($0["pages"] as? NSNumber)?.uint64Value ?? 0)" }
}
