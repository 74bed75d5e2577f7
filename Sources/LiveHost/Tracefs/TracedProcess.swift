import SystemLibc

/// The few facts about the watched process that the event path needs, read from /proc.
public enum TracedProcess {
    /// True while `pid` exists (zombies count: the pid is still taken).
    public static func exists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// True while `pid` runs: it exists and is not a zombie or dead (`/proc/PID/stat` state Z, X).
    public static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = FileSystemCalls.readSmallText("/proc/\(pid)/stat") else { return false }
        // The state follows the comm's closing parenthesis; the comm itself may hold ')'.
        guard let close = stat.lastIndex(of: ")") else { return false }
        let rest = stat[stat.index(after: close)...].drop(while: { $0 == " " })
        guard let state = rest.first else { return false }
        return state != "Z" && state != "X" && state != "x"
    }

    /// Thread ids of `pid` (`/proc/PID/task`), empty when it is gone.
    public static func threads(of pid: Int32) -> [Int32] {
        guard let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var tids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let tid = Int32(name), tid > 0 { tids.append(tid) }
        }
        return tids.sorted()
    }

    /// The process a thread belongs to (`Tgid:` in /proc/TID/status), nil when the thread is gone.
    public static func threadGroup(ofThread tid: Int32) -> Int32? {
        guard tid > 0, let status = FileSystemCalls.readSmallText("/proc/\(tid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).trimmingSpaces)
        }
        return nil
    }

    /// The command name of a thread (`/proc/PID/task/TID/comm`), nil when gone.
    public static func threadName(pid: Int32, tid: Int32) -> String? {
        FileSystemCalls.readSmallText("/proc/\(pid)/task/\(tid)/comm").map { $0.hasSuffix("\n") ? String($0.dropLast()) : $0 }
    }

    /// The process name (`/proc/PID/comm`).
    public static func name(_ pid: Int32) -> String? {
        threadName(pid: pid, tid: pid)
    }

    /// The vCPU index of a QEMU thread name `CPU <n>/KVM` (accel/kvm/kvm-accel-ops.c), else -1.
    public static func vcpuIndex(threadName: String) -> Int32 {
        guard threadName.hasPrefix("CPU "), threadName.hasSuffix("/KVM") else { return -1 }
        let digits = threadName.dropFirst(4).dropLast(4)
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = Int32(digits) else { return -1 }
        return n
    }
}
