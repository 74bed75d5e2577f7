import CTracefs
import CTracecmd

/// The live host: VMs on this machine, their events from tracefs, their KVM statistics, and
/// trace.dat files read through libtracecmd. Everything here talks to the kernel or to system
/// libraries; the model in MonitorCore stays pure.
///
/// Folders: `Tracefs/` (instance, events, reader thread), `TraceDat/` (trace-cmd files),
/// `VMs/` (finding VMs: /proc, libvirt), `KVMStats/` (KVM_GET_STATS_FD), `SystemCalls/` (typed
/// wrappers: pidfd, ioctl).
public enum LiveHost {
    /// Where libtracefs finds tracefs, or nil when it is not mounted.
    public static var tracingDirectory: String? {
        guard let p = tracefs_tracing_dir() else { return nil }
        return String(cString: p)
    }
}
