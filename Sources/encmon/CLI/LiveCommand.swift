import SystemLibc
import ArgumentParser
import LiveHost
import MonitorCore

/// `--vm ID` and its companions; the default command (`Watch`, QMPCommand.swift) holds them.
struct LiveOptions: ParsableArguments {
    @Option(name: .customLong("vm"), help: ArgumentHelp("Monitor a running VM: libvirt id or name, QEMU -name, or process id.", valueName: "ID"))
    var vm: String?

    @Option(name: .customLong("event"), help: ArgumentHelp("Watch this trace event instead of kvm:kvm_hypercall; it must have u64 fields nr, a0, a1, a2 (a uprobe, for tests). The process need not hold a VM.", valueName: "SYSTEM:NAME"))
    var event: String?

    @Option(help: ArgumentHelp("Append every live (and QMP) event to FILE in encmon's recording format ('encmon replay FILE' later).", valueName: "FILE"))
    var record: String?

    @Option(name: .customLong("buffer-size"), help: ArgumentHelp("Per-CPU ring buffer of encmon's tracefs instance in KiB (kernel default otherwise); overruns show as lost events.", valueName: "KIB"))
    var bufferSize: Int?

    @Flag(help: "Print one JSON object per refresh, one a line (JSON Lines), until -n, the VM's exit or a signal.")
    var json = false

    /// `withQMP`: `--json` and `--record` also serve `--qmp` alone.
    func validateForLive(withQMP: Bool = false) throws {
        if vm == nil, event != nil || bufferSize != nil || (!withQMP && (record != nil || json)) {
            throw ValidationError("--event, --buffer-size, --record and --json need --vm ID or --qmp PATH (or use 'encmon replay' / 'encmon demo')")
        }
        if let event, WatchedEvent(hypercallLike: event) == nil {
            throw ValidationError("--event must be SYSTEM:NAME, such as kvm:kvm_hypercall or mygroup:myprobe, not '\(event)'")
        }
        if let bufferSize, bufferSize < 1 || bufferSize > 1 << 22 {
            throw ValidationError("--buffer-size must be between 1 and 4194304 KiB, not \(bufferSize)")
        }
        if let vm, vm.isEmpty { throw ValidationError("--vm needs a libvirt id or name, a QEMU -name or a process id") }
    }
}
