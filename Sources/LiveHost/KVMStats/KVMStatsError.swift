import SystemLibc

/// Why the KVM statistics of a process cannot be read.
public enum KVMStatsError: Error, Sendable, Hashable, CustomStringConvertible {
    case noSuchProcess(pid: Int32)
    /// The process holds no `anon_inode:kvm-vm` descriptor.
    case notAVM(pid: Int32)
    case processExited(pid: Int32)
    /// The process holds no statistics descriptor and KVM_GET_STATS_FD answers only inside it.
    case statsUnreachable(pid: Int32)
    /// The kernel refused (pidfd_getfd needs ptrace rights over the process: root or the same user).
    case permissionDenied(pid: Int32, SystemCallError)
    case systemCall(SystemCallError)
    case format(label: String, KVMStatsFormatError)

    /// Sorts a failed call into the case a user can act on.
    init(pid: Int32, _ error: SystemCallError) {
        if error.isPermissionDenied {
            self = .permissionDenied(pid: pid, error)
        } else if error.errno == ESRCH || (error.errno == ENOENT && error.call.hasPrefix("opendir")) {
            self = .noSuchProcess(pid: pid)
        } else {
            self = .systemCall(error)
        }
    }

    public var description: String {
        switch self {
        case .noSuchProcess(let pid): "no process \(pid)"
        case .notAVM(let pid): "process \(pid) holds no KVM VM (no anon_inode:kvm-vm in /proc/\(pid)/fd)"
        case .processExited(let pid): "VM process \(pid) exited"
        case .statsUnreachable(let pid):
            "process \(pid) holds no KVM statistics descriptor, and KVM answers KVM_GET_STATS_FD only inside the VM's own process (QEMU 8.2 and later keep one open per vCPU)"
        case .permissionDenied(let pid, let e):
            "no permission to read the KVM statistics of process \(pid) (\(e)); run as root, or use `encmon serve`'s socket"
        case .systemCall(let e): "\(e)"
        case .format(let label, let e): "\(label): \(e)"
        }
    }
}
