import SystemLibc
import CTracefs

/// Where tracefs is, mounting it when it is not (a fresh host often has it unmounted).
public enum TracefsMount {
    public static let standardPath = "/sys/kernel/tracing"

    /// The tracing directory. When tracefs is not mounted and encmon runs as root it is mounted at
    /// `standardPath` (`mountedNow` is then true so the caller can say so once); otherwise
    /// `.notMounted`.
    public static func locate() throws(TracefsError) -> (path: String, mountedNow: Bool) {
        var dir: UnsafePointer<CChar>?
        if tracefs_tracing_dir_is_mounted(false, &dir) == 1, let dir { return (String(cString: dir), false) }
        guard geteuid() == 0 else { throw .notMounted }
        // Our own mount(2) rather than libtracefs' fallback, which may mount debugfs instead.
        if mount("nodev", standardPath, "tracefs", 0, nil) != 0, errno != EBUSY {
            throw .cannotMount(path: standardPath, errno: errno)
        }
        guard tracefs_tracing_dir_is_mounted(false, &dir) == 1, let dir else {
            throw .cannotMount(path: standardPath, errno: ENOENT)
        }
        return (String(cString: dir), true)
    }
}
