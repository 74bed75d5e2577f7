import SystemLibc

// Spawning children for the test targets that run programs (EndToEndTests, LiveHostTests).

/// posix_spawn with an empty signal mask and default dispositions: a child of the Swift Testing
/// runner otherwise inherits its blocked signals (swift-ncurses-notes G7). The child gets only
/// descriptors 0, 1 and 2. `redirect` adds the
/// child's file actions; a nil `environment` passes this process's own.
public func spawnWithDefaultSignals(_ path: String, _ args: [String], environment: [String]?,
                             redirect: (inout posix_spawn_file_actions_t) -> Void) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    redirect(&actions)
    // Nothing else of the test runner's: an inherited descriptor into a tracefs instance the
    // runner is using keeps that instance busy (rmdir: EBUSY) for the child's whole life.
    closeInheritedDescriptors(&actions)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t(); sigemptyset(&none)
    var all = sigset_t(); sigfillset(&all)
    posix_spawnattr_setsigmask(&attr, &none)
    posix_spawnattr_setsigdefault(&attr, &all)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = ([path] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let rc: Int32
    if let environment {
        let envp = environment.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
    } else {
        rc = posix_spawn(&pid, path, &actions, &attr, argv, environ)
    }
    guard rc == 0 else { throw SpawnError(path: path, code: rc) }
    return pid
}

/// Adds glibc's `posix_spawn_file_actions_addclosefrom_np(actions, 3)` (2.34+; Swift's Glibc
/// module does not declare it, so it is looked up by name).
public func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
    _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
}

/// posix_spawn failed: the program and the error number.
public struct SpawnError: Error, CustomStringConvertible {
    public var path: String, code: Int32
    public init(path: String, code: Int32) { self.path = path; self.code = code }
    public var description: String { "cannot run \(path): \(String(cString: strerror(code)))" }
}
