import SystemLibc

/// Why the tracefs side of the live source failed. Each case names the input the user has to fix.
public enum TracefsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// tracefs is not mounted and encmon is not root, so it cannot mount it.
    case notMounted
    /// Mounting tracefs at `path` failed.
    case cannotMount(path: String, errno: Int32)
    /// Creating, writing or reading tracefs needs root (or CAP_SYS_ADMIN / tracefs permissions).
    case permissionDenied(path: String)
    /// `mkdir instances/NAME` failed.
    case cannotCreateInstance(name: String, errno: Int32)
    /// The kernel has no such trace event (module not loaded, kernel too old, probe not defined).
    case eventMissing(system: String, event: String)
    /// The event exists but lacks a field encmon decodes by name.
    case fieldMissing(system: String, event: String, field: String)
    /// libtraceevent could not parse the event formats.
    case cannotLoadFormats(systems: [String])
    /// Writing a control file of the instance failed.
    case writeFailed(file: String, value: String, errno: Int32)
    /// Reading the per-CPU buffers failed.
    case readFailed(errno: Int32)
    /// The instance was removed while encmon read it (by another process: encmon's own is
    /// removed only after its reader has stopped).
    case instanceRemoved(name: String)
    /// Reading the buffers was refused after tracing had started (mode or mount changed).
    case readDenied(path: String)

    public var description: String {
        switch self {
        case .notMounted:
            return "tracefs is not mounted and only root can mount it: run encmon as root, "
                + "or mount it with 'mount -t tracefs nodev \(TracefsMount.standardPath)'"
        case .cannotMount(let path, let e):
            return "cannot mount tracefs at \(path): \(errnoText(e))"
        case .permissionDenied(let path):
            return "no permission to use tracefs (\(path)): run encmon as root"
        case .cannotCreateInstance(let name, let e):
            if e == EACCES || e == EPERM { return "no permission to create tracefs instance \(name): run encmon as root" }
            return "cannot create tracefs instance \(name): \(errnoText(e))"
        case .eventMissing(let system, let event):
            return "trace event \(system):\(event) does not exist on this kernel "
                + (system == "kvm" ? "(is the kvm module loaded?)" : "(is the probe defined? see 'available_events')")
        case .fieldMissing(let system, let event, let field):
            return "trace event \(system):\(event) has no field '\(field)' (encmon needs nr, a0, a1, a2)"
        case .cannotLoadFormats(let systems):
            return "cannot read the event formats of \(systems.joined(separator: ", ")) from tracefs"
        case .writeFailed(let file, let value, let e):
            return "cannot write '\(value)' to tracefs \(file): \(errnoText(e))"
        case .readFailed(let e):
            return "reading the trace buffers failed: \(errnoText(e))"
        case .instanceRemoved(let name):
            return "tracefs instance \(name) was removed by another process; tracing stopped"
        case .readDenied(let path):
            return "permission to read tracefs \(path) was taken away while tracing (mode or mount changed); tracing stopped"
        }
    }
}

func errnoText(_ e: Int32) -> String {
    String(cString: strerror(e))
}
