import SystemLibc
import CTracefs
import Synchronization

/// An encmon-owned tracefs instance (`instances/encmon-<pid>-<n>`): its own ring buffer, event
/// enables, filters, pid list and clock, so encmon never touches the top-level tracing state or
/// another tool's instance. `destroy()` removes it; `deinit` destroys it if nobody did.
///
/// Every file of the instance encmon opens is opened close-on-exec and closed at once: the kernel
/// refuses to remove an instance while any of its files is open (`instance_rmdir` →
/// `__remove_instance`: EBUSY while the trace_array has references), and libtracefs' own file
/// calls open without O_CLOEXEC, so a child spawned meanwhile by the same process (a test runner,
/// a supervisor) would keep the instance busy for its whole life.
///
/// Not Sendable: one owner at a time (the live source hands it to its reader thread and takes it
/// back after joining).
public final class TracefsInstance {
    /// `encmon-<pid>-<n>`: the pid lets a later encmon remove instances of a dead one.
    public static let namePrefix = "encmon-"
    private static let counter = Atomic<Int>(0)

    public let name: String
    /// libtracefs' handle; nil once destroyed.
    private(set) var handle: OpaquePointer?
    /// `<tracefs>/instances/<name>`.
    public let directory: String

    /// Creates a new instance named `encmon-<our pid>-<n>`.
    public init() throws(TracefsError) {
        let n = Self.counter.add(1, ordering: .relaxed).newValue
        name = "\(Self.namePrefix)\(getpid())-\(n)"
        if tracefs_instance_exists(name) {
            // Only a pid reused by the kernel after a crash leaves this behind; it is ours by name.
            Self.remove(named: name)
        }
        errno = 0
        guard let h = tracefs_instance_create(name) else {
            throw .cannotCreateInstance(name: name, errno: errno == 0 ? EIO : errno)
        }
        handle = h
        directory = Self.directory(of: h, name: name)
    }

    static func directory(of h: OpaquePointer, name: String) -> String {
        guard let p = tracefs_instance_get_dir(h) else { return (tracefs_tracing_dir().map { String(cString: $0) } ?? TracefsMount.standardPath) + "/instances/" + name }
        defer { free(p) }
        return String(cString: p)
    }

    /// The instance `name` (not `encmon-<pid>-<n>`, so never removed as stale), reused with its
    /// ring buffer when it exists: a restarted daemon reads what was traced while it was down.
    /// `reused` says whether it existed.
    public init(persistentName name: String) throws(TracefsError) {
        self.name = name
        reused = tracefs_instance_exists(name)
        errno = 0
        let h = reused ? tracefs_instance_alloc(nil, name) : tracefs_instance_create(name)
        guard let h else { throw .cannotCreateInstance(name: name, errno: errno == 0 ? EIO : errno) }
        handle = h
        directory = Self.directory(of: h, name: name)
    }

    /// True when `init(persistentName:)` found the instance already there.
    public private(set) var reused = false

    deinit { destroy() }

    /// Removes the instance from tracefs (its events stop with it) and frees the handle. Idempotent.
    public func destroy() {
        guard let h = handle else { return }
        handle = nil
        // Stop the buffer first so an event arriving meanwhile cannot keep it busy.
        _ = try? FileSystemCalls.writeFile(directory + "/tracing_on", "0")
        Self.destroyRetryingWhileBusy(h)
        tracefs_instance_free(h)
    }

    /// The kernel refuses `rmdir` (EBUSY) while any file of the instance is open. encmon closes
    /// its own first (the reader thread is joined before this runs); another process reading the
    /// instance, or holding one of its files from an inherited descriptor, still can: retry for up
    /// to five seconds rather than leave the instance behind.
    @discardableResult
    static func destroyRetryingWhileBusy(_ h: OpaquePointer) -> Bool {
        for _ in 0..<250 {
            errno = 0
            if tracefs_instance_destroy(h) == 0 { return true }
            guard errno == EBUSY else { return false }
            var ts = timespec(tv_sec: 0, tv_nsec: 20_000_000)
            nanosleep(&ts, nil)
        }
        return false
    }

    public var exists: Bool { handle != nil && tracefs_instance_exists(name) }

    /// Writes `value` to the instance file `file` (a path relative to the instance directory).
    public func write(_ value: String, to file: String) throws(TracefsError) {
        guard handle != nil else { throw .writeFailed(file: file, value: value, errno: EBADF) }
        do { try FileSystemCalls.writeFile(directory + "/" + file, value) } catch {
            throw failure(file: file, value: value, errno: error.errno)
        }
    }

    /// The text of an instance file, nil when it cannot be read.
    public func read(_ file: String) -> String? {
        guard handle != nil, let bytes = try? FileSystemCalls.readFile(directory + "/" + file, limit: 1 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether the kernel has `system:event` (its directory exists in this instance).
    public func hasEvent(system: String, event: String) -> Bool {
        tracefs_event_file_exists(handle, system, event, "enable")
    }

    /// Enables `system:event` in this instance, with a filter when given (`nr == 12`).
    public func enable(system: String, event: String, filter: String? = nil) throws(TracefsError) {
        guard hasEvent(system: system, event: event) else { throw .eventMissing(system: system, event: event) }
        if let filter { try write(filter, to: "events/\(system)/\(event)/filter") }
        try write("1", to: "events/\(system)/\(event)/enable")
    }

    /// Limits every event of the instance to these threads; `followForks` adds threads and
    /// children they create later (option `event-fork`), so a vCPU hot-added later is seen too.
    public func limitEvents(toThreads tids: [Int32], followForks: Bool) throws(TracefsError) {
        if followForks { try write("1", to: "options/event-fork") }
        try write(tids.map(String.init).joined(separator: " "), to: "set_event_pid")
    }

    /// Per-CPU ring buffer size in KiB (`buffer_size_kb`): larger rides out bursts between reads.
    public func setBufferSize(kilobytes: Int) throws(TracefsError) {
        try write("\(kilobytes)", to: "buffer_size_kb")
    }

    /// `mono`: record timestamps in CLOCK_MONOTONIC nanoseconds, the clock live sources stamp with.
    public func setClock(_ clock: String) throws(TracefsError) {
        // Setting the clock empties the buffer: leave a reused instance's events alone.
        if read("trace_clock")?.contains("[\(clock)]") == true { return }
        try write(clock, to: "trace_clock")
    }

    private func failure(file: String, value: String, errno e: Int32) -> TracefsError {
        if e == EACCES || e == EPERM { return .permissionDenied(path: "instances/\(name)/\(file)") }
        return .writeFailed(file: "instances/\(name)/\(file)", value: value, errno: e)
    }
}

extension TracefsInstance {
    /// The pid in an instance name `encmon-<pid>-<n>`, nil for any other name.
    public static func ownerPid(ofInstanceNamed name: String) -> Int32? {
        guard name.hasPrefix(namePrefix) else { return nil }
        let parts = name.dropFirst(namePrefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let pid = Int32(parts[0]), pid > 0, UInt64(parts[1]) != nil else { return nil }
        return pid
    }

    /// Removes instances `encmon-<pid>-<n>` whose process no longer exists (left by a killed
    /// encmon). Other names, ours and live encmons' instances are left alone. Returns the names removed.
    @discardableResult
    public static func removeStale(isRunning: (Int32) -> Bool = TracedProcess.exists) -> [String] {
        final class Names { var list: [String] = [] }
        let names = Names()
        _ = withExtendedLifetime(names) {
            tracefs_instances_walk({ name, context in
                guard let name, let context else { return 0 }
                Unmanaged<Names>.fromOpaque(context).takeUnretainedValue().list.append(String(cString: name))
                return 0
            }, Unmanaged.passUnretained(names).toOpaque())
        }
        var removed: [String] = []
        for name in names.list {
            guard let pid = ownerPid(ofInstanceNamed: name), pid != getpid(), !isRunning(pid) else { continue }
            if remove(named: name) { removed.append(name) }
        }
        return removed
    }

    /// Stops and removes the instance `name` (retrying while busy); false when it is not there
    /// or cannot be removed. Policy (which names) is the caller's.
    @discardableResult
    public static func remove(named name: String) -> Bool {
        guard let h = tracefs_instance_alloc(nil, name) else { return false }
        defer { tracefs_instance_free(h) }
        _ = try? FileSystemCalls.writeFile(directory(of: h, name: name) + "/tracing_on", "0")
        return destroyRetryingWhileBusy(h)
    }
}
