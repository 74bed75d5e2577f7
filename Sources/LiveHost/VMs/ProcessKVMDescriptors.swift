import SystemLibc

/// The KVM descriptors a process holds, from the links in `/proc/PID/fd`
/// (`anon_inode:kvm-vm`, `anon_inode:kvm-vcpu:N`, and the statistics descriptors
/// `anon_inode:kvm-vm-stats`, `anon_inode:kvm-vcpu-stats:N`; fs/anon_inodes.c, virt/kvm/kvm_main.c).
public struct ProcessKVMDescriptors: Sendable, Hashable {
    public struct VCPU: Sendable, Hashable {
        /// The vCPU id from the link name (`kvm-vcpu:<id>`).
        public var index: Int
        public var descriptor: Int32
    }

    public static let vmLink = "anon_inode:kvm-vm"
    public static let vcpuLinkPrefix = "anon_inode:kvm-vcpu:"
    public static let vmStatsLink = "anon_inode:kvm-vm-stats"
    public static let vcpuStatsLinkPrefix = "anon_inode:kvm-vcpu-stats:"

    /// VM descriptors, lowest first (QEMU holds one).
    public var vmDescriptors: [Int32]
    /// vCPU descriptors by vCPU id.
    public var vcpus: [VCPU]
    /// Statistics descriptors the process already holds (QEMU ≥ 8.2 keeps one per vCPU open).
    public var vmStatsDescriptors: [Int32] = []
    public var vcpuStats: [VCPU] = []

    public var holdsVM: Bool { !vmDescriptors.isEmpty }

    public init(vmDescriptors: [Int32], vcpus: [VCPU]) {
        self.vmDescriptors = vmDescriptors
        self.vcpus = vcpus
    }

    /// Reads `<procRoot>/<pid>/fd`. Throws when the directory cannot be listed (ENOENT: no such
    /// process; EACCES: another user's process). Links that vanish while reading are skipped.
    public static func scan(pid: Int32, procRoot: String = "/proc") throws(SystemCallError) -> ProcessKVMDescriptors {
        let dir = "\(procRoot)/\(pid)/fd"
        var vms: [Int32] = []
        var vcpus: [VCPU] = []
        var vmStats: [Int32] = []
        var vcpuStats: [VCPU] = []
        for name in try FileSystemCalls.listDirectory(dir) {
            guard let fd = Int32(name) else { continue }
            let target: String
            do { target = try FileSystemCalls.readLink("\(dir)/\(name)") } catch {
                if error.errno == ENOENT { continue }
                throw error
            }
            if target == vmLink {
                vms.append(fd)
            } else if target.hasPrefix(vcpuLinkPrefix), let index = Int(target.dropFirst(vcpuLinkPrefix.count)) {
                vcpus.append(VCPU(index: index, descriptor: fd))
            } else if target == vmStatsLink {
                vmStats.append(fd)
            } else if target.hasPrefix(vcpuStatsLinkPrefix), let index = Int(target.dropFirst(vcpuStatsLinkPrefix.count)) {
                vcpuStats.append(VCPU(index: index, descriptor: fd))
            }
        }
        let byIndex: (VCPU, VCPU) -> Bool = { ($0.index, $0.descriptor) < ($1.index, $1.descriptor) }
        var held = ProcessKVMDescriptors(vmDescriptors: vms.sorted(), vcpus: vcpus.sorted(by: byIndex))
        held.vmStatsDescriptors = vmStats.sorted()
        held.vcpuStats = vcpuStats.sorted(by: byIndex)
        return held
    }
}
