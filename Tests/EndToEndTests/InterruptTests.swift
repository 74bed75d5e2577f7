import SystemLibc
import Testing
import TestSupport

/// A replay of a silent FIFO must still end on SIGINT (a read retried on EINTR ignored it).
@Suite(.serialized) struct InterruptTests {
    /// SIGINT is caught (not at its default) according to /proc/<pid>/status.
    static func catchesSIGINT(_ pid: pid_t) -> Bool {
        let text = (try? readFile("/proc/\(pid)/status")) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
              let mask = UInt64(String(line.dropFirst(7).filter { !$0.isWhitespace }), radix: 16) else { return false }
        return mask & (1 << (UInt64(SIGINT) - 1)) != 0
    }

    /// Polls for the child's end for up to `seconds`; nil if it is still running.
    static func waitForExit(_ pid: pid_t, seconds: Double) -> Int32? {
        var status: Int32 = 0
        for _ in 0..<Int(seconds * 100) {
            if waitpid(pid, &status, WNOHANG) == pid { return status }
            usleep(10_000)
        }
        return nil
    }

    @Test func replayOfASilentFIFOEndsOnSIGINT() {
        let fifo = "/tmp/encmon-e2e-fifo-\(getpid())"
        unlink(fifo)
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        // Hold the FIFO open for writing (O_RDWR never blocks on Linux), so encmon's reads block
        // for data rather than seeing end of file; give it one event so it starts the session.
        let writer = open(fifo, O_RDWR | O_NONBLOCK)
        #expect(writer >= 0)
        defer { close(writer) }
        let line = "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x2 a2 0x0 a3 0x0\n"
        _ = Array(line.utf8).withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }

        let environment: [String] = ["PATH=/usr/bin:/bin", "TERM=dumb", "HOME=/tmp"]
        let pid: pid_t
        do {
            pid = try spawnWithDefaultSignals(Built.encmon, ["replay", fifo, "-b"], environment: environment) { actions in
                posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            }
        } catch {
            Issue.record("\(error)")
            return
        }

        // Wait until the session's handlers are in place, then let it block in the read.
        var caught = false
        for _ in 0..<1_000 where !caught {
            caught = Self.catchesSIGINT(pid)
            if !caught { usleep(10_000) }
        }
        #expect(caught, "encmon never installed its SIGINT handler")
        usleep(300_000)
        kill(pid, SIGINT)
        guard let status = Self.waitForExit(pid, seconds: 10) else {
            kill(pid, SIGKILL)
            var s: Int32 = 0
            waitpid(pid, &s, 0)
            Issue.record("encmon kept waiting on the FIFO after SIGINT")
            return
        }
        // Ended by its own exit (128 + SIGINT), not killed by the signal's default action.
        #expect(status & 0x7f == 0, "killed by signal \(status & 0x7f)")
        #expect((status >> 8) & 0xff == 130)
    }
}
