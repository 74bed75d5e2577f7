/// Why `--vm ID` or `encmon list` could not name a VM. Each message is one line saying what was
/// tried and what to do; each case has its own exit status (README, "Exit status").
public enum HostVMError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing matched. `tried` says what was looked at; `known` lists the VMs that do exist.
    case notFound(query: String, tried: String, known: [String])
    /// A name matched several VMs.
    case ambiguous(query: String, candidates: [String])
    /// The process exists but holds no `anon_inode:kvm-vm` descriptor.
    case notAVM(pid: Int32, command: String)
    /// The process (or every VMM-looking process) could not be inspected.
    case permissionDenied(query: String, detail: String)
    /// /proc itself could not be read.
    case systemCall(SystemCallError)

    public var exitCode: Int32 {
        switch self {
        case .notFound: 67
        case .notAVM: 68
        case .ambiguous: 75
        case .permissionDenied: 77
        case .systemCall: 74
        }
    }

    public var description: String {
        switch self {
        case .notFound(let query, let tried, let known):
            let list = known.isEmpty ? "no VMs run on this host" : "VMs here: " + known.joined(separator: ", ")
            return "no VM '\(query)': \(tried); \(list) (see `encmon list`)"
        case .ambiguous(let query, let candidates):
            return "'\(query)' names \(candidates.count) VMs: \(candidates.joined(separator: ", ")); give a pid or libvirt id instead"
        case .notAVM(let pid, let command):
            return "process \(pid) (\(command)) holds no KVM VM (no anon_inode:kvm-vm in /proc/\(pid)/fd); see `encmon list`"
        case .permissionDenied(let query, let detail):
            return "cannot inspect '\(query)': \(detail); run as root, or use `encmon serve`'s socket"
        case .systemCall(let error):
            return "cannot read the process table: \(error)"
        }
    }
}
