/// A VM running on this host: the process that holds its `kvm-vm` descriptor and what QEMU's
/// command line and libvirt say about it.
public struct HostVM: Sendable, Codable, Hashable {
    public struct VCPUThread: Sendable, Codable, Hashable {
        /// QEMU's cpu_index (`CPU <index>/KVM`) or libvirt's `<vcpu id>`.
        public var index: Int
        /// The host thread id running that vCPU.
        public var threadID: Int32
        public init(index: Int, threadID: Int32) { self.index = index; self.threadID = threadID }
    }

    public var pid: Int32
    /// The process name (`/proc/PID/comm`): `qemu-system-x86`, ...
    public var command: String
    /// QEMU `-name` (`-name foo` or `-name guest=foo,...`).
    public var qemuName: String?
    /// The libvirt domain id (`virsh list` Id) while libvirt runs the domain.
    public var libvirtID: Int?
    public var libvirtName: String?
    /// Guest RAM in bytes, from `-m`, the memory backends, or libvirt.
    public var memoryBytes: UInt64?
    /// vCPU threads by index.
    public var vcpuThreads: [VCPUThread]
    /// QEMU's QMP socket, where the command line or libvirt names one.
    public var qmpSocket: String?

    public init(pid: Int32, command: String, qemuName: String? = nil, libvirtID: Int? = nil, libvirtName: String? = nil,
                memoryBytes: UInt64? = nil, vcpuThreads: [VCPUThread] = [], qmpSocket: String? = nil) {
        self.pid = pid; self.command = command; self.qemuName = qemuName; self.libvirtID = libvirtID
        self.libvirtName = libvirtName; self.memoryBytes = memoryBytes; self.vcpuThreads = vcpuThreads
        self.qmpSocket = qmpSocket
    }

    /// The name a user knows it by: libvirt's, else QEMU's, else the process name.
    public var name: String { libvirtName ?? qemuName ?? command }

    /// `VM web1 (libvirt id 3, pid 1234)`, for headers and messages.
    public var label: String {
        var details: [String] = []
        if let libvirtID { details.append("libvirt id \(libvirtID)") }
        details.append("pid \(pid)")
        return "VM \(name) (\(details.joined(separator: ", ")))"
    }
}
