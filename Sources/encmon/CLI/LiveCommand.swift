#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import ArgumentParser
import LiveHost
import MonitorCore

extension EncmonCommand {
    /// `encmon --vm ID` (the default subcommand): the live source on the screen, as text frames,
    /// or as JSON Lines.
    struct Live: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Monitor a running VM live through tracefs (the default: 'encmon --vm ID').",
            discussion: """
                Creates an own tracefs instance limited to the VM's threads, enables kvm:kvm_hypercall \
                (nr == 12) and, where the kernel has it, kvm:kvm_vmgexit_msr_protocol_enter, and shows \
                the shared set from the moment encmon attached. Needs root. The instance is removed \
                on quit, signals and errors.
                """
        )
        @OptionGroup(title: "Live") var live: LiveOptions
        @OptionGroup(title: "Display") var display: DisplayOptions
        @OptionGroup(title: "Model") var model: ModelOptions

        func validate() throws { try live.validateForLive() }

        func run() throws {
            guard live.vm != nil else { throw CleanExit.helpRequest(EncmonCommand.self) }
            try live.run(display: display, model: model)
        }
    }
}

struct LiveOptions: ParsableArguments {
    @Option(name: .customLong("vm"), help: ArgumentHelp("Monitor a running VM: libvirt id or name, QEMU -name, or process id.", valueName: "ID"))
    var vm: String?

    @Option(name: .customLong("event"), help: ArgumentHelp("Watch this trace event instead of kvm:kvm_hypercall; it must have u64 fields nr, a0, a1, a2 (a uprobe, for tests). The process need not hold a VM.", valueName: "SYSTEM:NAME"))
    var event: String?

    @Option(help: ArgumentHelp("Append every live event to FILE in encmon's recording format ('encmon replay FILE' later).", valueName: "FILE"))
    var record: String?

    @Option(name: .customLong("buffer-size"), help: ArgumentHelp("Per-CPU ring buffer of encmon's tracefs instance in KiB (kernel default otherwise); overruns show as lost events.", valueName: "KIB"))
    var bufferSize: Int?

    @Flag(help: "Print one JSON object per refresh, one a line (JSON Lines), until -n, the VM's exit or a signal.")
    var json = false

    func validateForLive() throws {
        if vm == nil, event != nil || record != nil || json {
            throw ValidationError("--event, --record and --json need --vm ID (or use 'encmon replay' / 'encmon demo')")
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
