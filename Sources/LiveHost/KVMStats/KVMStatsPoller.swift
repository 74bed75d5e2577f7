import SystemLibc
import MonitorCore

/// Reads the KVM binary statistics of the VM a process runs (QEMU or any VMM).
///
/// KVM answers VM and vCPU ioctls, KVM_GET_STATS_FD included, only inside the process that
/// created the VM (`kvm->mm != current->mm` → EIO; api.rst: "VM ioctls must be issued from the
/// same process"). So encmon copies, with pidfd_open + pidfd_getfd, the statistics descriptors the
/// process already holds (QEMU ≥ 8.2 keeps one per vCPU open from vCPU creation); for a VM or vCPU
/// without one it copies the VM / vCPU descriptor and asks KVM_GET_STATS_FD, which works only where
/// the caller shares the VM's address space. Each `poll()` re-reads the data blocks with pread.
///
/// vCPUs are those the process held when the poller was made. Sendable: every property is an
/// immutable Sendable value, and reads go through pread, which keeps no file position.
public final class KVMStatsPoller: Sendable {
    public let pid: Int32
    /// VM-wide statistics (empty when the process holds no VM stats descriptor).
    public let vmStats: [KVMStatsFile]
    public let vcpuStats: [(index: Int, file: KVMStatsFile)]
    /// What could not be reached, in words (`VM-wide statistics: ...`), for a note on screen.
    public let unavailable: [String]
    private let process: PidFD

    /// Attaches to the VM of process `pid`. Throws `.notAVM` when it holds no `kvm-vm` descriptor,
    /// `.permissionDenied` when the kernel refuses to copy its descriptors, `.statsUnreachable`
    /// when neither a held stats descriptor nor KVM_GET_STATS_FD gives any statistics.
    public init(pid: Int32, procRoot: String = "/proc") throws(KVMStatsError) {
        let process: PidFD
        do { process = try PidFD.open(pid: pid) } catch { throw KVMStatsError(pid: pid, error) }
        let held: ProcessKVMDescriptors
        do { held = try ProcessKVMDescriptors.scan(pid: pid, procRoot: procRoot) } catch { throw KVMStatsError(pid: pid, error) }
        guard held.holdsVM else { throw .notAVM(pid: pid) }
        var unavailable: [String] = []

        var vm: [KVMStatsFile] = []
        let vmLabel = "VM of pid \(pid)"
        if let fd = held.vmStatsDescriptors.first {
            vm.append(try Self.copyStats(process, descriptor: fd, label: vmLabel))
        } else if let fd = held.vmDescriptors.first {
            switch try Self.askStats(process, descriptor: fd, label: vmLabel) {
            case .some(let file): vm.append(file)
            case .none: unavailable.append("VM-wide statistics (no kvm-vm-stats descriptor open in pid \(pid))")
            }
        }
        var vcpus: [(index: Int, file: KVMStatsFile)] = []
        for vcpu in held.vcpus {
            let label = "vCPU \(vcpu.index) of pid \(pid)"
            if let stats = held.vcpuStats.first(where: { $0.index == vcpu.index }) {
                vcpus.append((vcpu.index, try Self.copyStats(process, descriptor: stats.descriptor, label: label)))
            } else if let file = try Self.askStats(process, descriptor: vcpu.descriptor, label: label) {
                vcpus.append((vcpu.index, file))
            } else {
                unavailable.append("\(label) (no kvm-vcpu-stats descriptor open)")
            }
        }
        guard !vm.isEmpty || !vcpus.isEmpty else { throw .statsUnreachable(pid: pid) }
        self.pid = pid
        self.process = process
        self.vmStats = vm
        self.vcpuStats = vcpus
        self.unavailable = unavailable
    }

    /// A copy of a statistics descriptor the process holds.
    private static func copyStats(_ process: PidFD, descriptor: Int32, label: String) throws(KVMStatsError) -> KVMStatsFile {
        let copy: OwnedFileDescriptor
        do { copy = try process.duplicate(descriptor: descriptor) } catch { throw KVMStatsError(pid: process.pid, error) }
        return try KVMStatsFile(descriptor: copy, label: label)
    }

    /// KVM_GET_STATS_FD on a copy of a VM or vCPU descriptor; nil on EIO (another process's VM).
    private static func askStats(_ process: PidFD, descriptor: Int32, label: String) throws(KVMStatsError) -> KVMStatsFile? {
        let stats: OwnedFileDescriptor
        do {
            let copy = try process.duplicate(descriptor: descriptor)
            stats = try KVMIoctl.getStatsFD(copy, what: label)
        } catch {
            if error.errno == EIO { return nil }
            throw KVMStatsError(pid: process.pid, error)
        }
        return try KVMStatsFile(descriptor: stats, label: label)
    }

    /// Every statistic of the VM and of each vCPU now, stamped with CLOCK_MONOTONIC seconds.
    /// Throws `.processExited` once the process has gone (the copied descriptors would otherwise
    /// keep showing the dead VM's last values).
    public func sample() throws(KVMStatsError) -> KVMStatsSample {
        let exited: Bool
        do { exited = try process.hasExited() } catch { throw .systemCall(error) }
        if exited { throw .processExited(pid: pid) }
        let time = MonotonicClock.seconds()
        let vm = try vmStats.map { (file) throws(KVMStatsError) in KVMStatsSample.readings(file.schema, try file.readValues()) }
        let vcpus = try vcpuStats.map { (entry) throws(KVMStatsError) in
            KVMStatsSample.VCPU(index: entry.index, readings: KVMStatsSample.readings(entry.file.schema, try entry.file.readValues()))
        }
        return KVMStatsSample(time: time, vm: vm.flatMap { $0 }, vcpus: vcpus)
    }

    /// Model counters (`.counter`) for every event count of the VM and the sum over vCPUs.
    public func poll() throws(KVMStatsError) -> [MonitorEvent] {
        try sample().counterEvents()
    }
}

/// CLOCK_MONOTONIC in seconds, the clock of every live source.
enum MonotonicClock {
    static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
