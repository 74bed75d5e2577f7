import SystemLibc
import Testing
import TestSupport

/// True where this machine can run a KVM guest (some test machines have no /dev/kvm at all).
let kvmAvailable = access("/dev/kvm", R_OK | W_OK) == 0
let kvmUnavailableReason: Comment = "needs a usable /dev/kvm (absent here, or no permission)"

enum TestPaths {
    /// <root>/Tests/LiveHostTests/Support/KVMTestGuest.swift → <root>
    static var repositoryRoot: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)
        return parts.joined(separator: "/")
    }
}

struct TestHelperError: Error, CustomStringConvertible {
    var description: String
}

/// scripts/helpers/kvm-out-loop.c, compiled with gcc into a temporary directory and run: a real
/// KVM VM with one vCPU (thread "CPU 0/KVM") whose guest loops on `out`. Always killed by `stop()`.
final class KVMTestGuest {
    let pid: Int32
    let vcpuThread: Int32
    private let directory: String
    private var stopped = false

    init(arguments: [String] = []) throws {
        let dir = "/tmp/encmon-kvm-guest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(dir, 0o700) == 0 else { throw TestHelperError(description: "mkdir \(dir) failed") }
        directory = dir
        let binary = dir + "/kvm-out-loop"
        let source = TestPaths.repositoryRoot + "/scripts/helpers/kvm-out-loop.c"
        let gcc = try spawn("/usr/bin/gcc", ["-O1", "-pthread", "-o", binary, source], stdout: nil)
        guard waitForExit(gcc) == 0 else {
            Self.removeDirectory(dir)
            throw TestHelperError(description: "gcc could not build \(source)")
        }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestHelperError(description: "pipe failed") }
        let child: pid_t
        do { child = try spawn(binary, arguments, stdout: fds[1]) } catch {
            close(fds[0]); close(fds[1]); Self.removeDirectory(dir); throw error
        }
        close(fds[1])
        let line = readLine(fds[0])
        close(fds[0])
        let fields = line.split(separator: " ")
        guard fields.count == 3, fields[0] == "ready", let p = Int32(fields[1]), let t = Int32(fields[2]), p == child else {
            kill(child, SIGKILL); _ = waitForExit(child); Self.removeDirectory(dir)
            throw TestHelperError(description: "kvm-out-loop did not start (said '\(line)')")
        }
        pid = p
        vcpuThread = t
    }

    /// Kills the helper and reaps it; idempotent.
    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGKILL)
        _ = waitForExit(pid)
        Self.removeDirectory(directory)
    }

    deinit { stop() }

    private static func removeDirectory(_ dir: String) {
        unlink(dir + "/kvm-out-loop")
        rmdir(dir)
    }
}

/// A child with default signals and only descriptors 0-2 (TestSupport), stdin from /dev/null.
func spawn(_ path: String, _ args: [String], stdout: Int32?) throws -> pid_t {
    try spawnWithDefaultSignals(path, args, environment: nil) { actions in
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) }
    }
}

func waitForExit(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        if errno != EINTR { return -1 }
    }
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

/// One line from a pipe (up to 200 bytes), without the newline; "" at EOF.
func readLine(_ fd: Int32) -> String {
    var bytes: [UInt8] = []
    var byte: UInt8 = 0
    while bytes.count < 200 {
        let n = read(fd, &byte, 1)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 || byte == UInt8(ascii: "\n") { break }
        bytes.append(byte)
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Sleeps without blocking signals: the helper keeps running its guest meanwhile.
func sleepMilliseconds(_ ms: Int) {
    var request = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) < 0 && errno == EINTR { request = remaining }
}
