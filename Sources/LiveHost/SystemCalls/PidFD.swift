import CKVMHost

/// A pidfd (pidfd_open(2)): a stable handle on a process that cannot be confused with a later
/// process reusing the pid.
public struct PidFD: Sendable {
    public let pid: Int32
    public let descriptor: OwnedFileDescriptor

    /// pidfd_open(pid, 0). ESRCH: no such process.
    public static func open(pid: Int32) throws(SystemCallError) -> PidFD {
        let fd = try retryingOnInterrupt("pidfd_open(\(pid))") { ckvm_pidfd_open(pid, 0) }
        return PidFD(pid: pid, descriptor: OwnedFileDescriptor(adopting: fd))
    }

    /// pidfd_getfd(pidfd, target, 0): a duplicate of the process's descriptor `target` in this
    /// process. Needs PTRACE_MODE_ATTACH_REALCREDS over the process (root, or same uid and dumpable).
    public func duplicate(descriptor target: Int32) throws(SystemCallError) -> OwnedFileDescriptor {
        let fd = try retryingOnInterrupt("pidfd_getfd(pid \(pid), fd \(target))") {
            ckvm_pidfd_getfd(descriptor.rawValue, target, 0)
        }
        return OwnedFileDescriptor(adopting: fd)
    }
}

import SystemLibc

extension PidFD {
    /// True once the process has exited: a pidfd polls readable then (poll(2) with no wait).
    public func hasExited() throws(SystemCallError) -> Bool {
        var entry = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        let ready = try retryingOnInterrupt("poll pidfd of \(pid)") { Glibc.poll(&entry, 1, 0) }
        return ready > 0
    }
}
