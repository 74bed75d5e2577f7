import SystemLibc
import Synchronization
import CNcurses

/// The last SIGINT/SIGTERM/SIGHUP received, 0 when none. Written only by the signal handler
/// (an atomic store is async-signal-safe), read by the session loop after each key read or frame.
let pendingSignal = Atomic<Int32>(0)

/// Handlers for SIGINT, SIGTERM and SIGHUP that only record the signal, so the session loop
/// restores the terminal and returns instead of dying inside curses (ncurses' own handlers would
/// restore the tty but exit without running encmon's cleanup). No SA_RESTART: a blocked read or
/// sleep returns early and the loop sees the flag at once.
struct SessionSignalHandlers: ~Copyable {
    static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    private var previous: [(Int32, sigaction)] = []

    /// The current dispositions of the handled signals, to pass to `init(restoringTo:)`.
    static func currentDispositions() -> [(Int32, sigaction)] {
        handled.compactMap { sig in
            var old = sigaction()
            return sigaction(sig, nil, &old) == 0 ? (sig, old) : nil
        }
    }

    /// Installs the handlers and clears any earlier pending signal. Install after `newterm`,
    /// which puts its own handlers on signals whose disposition is still the default; pass the
    /// dispositions saved before `newterm` so that `restore()` does not reinstate ncurses'
    /// handlers after `delscreen`.
    init(restoringTo saved: [(Int32, sigaction)]? = nil) {
        pendingSignal.store(0, ordering: .relaxed)
        for sig in Self.handled {
            var action = sigaction()
            #if canImport(Darwin)
            action.__sigaction_u.__sa_handler = { pendingSignal.store($0, ordering: .relaxed) }
            #else
            action.__sigaction_handler.sa_handler = { pendingSignal.store($0, ordering: .relaxed) }
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            var old = sigaction()
            if sigaction(sig, &action, &old) == 0 { previous.append((sig, old)) }
        }
        if let saved { previous = saved }
    }

    /// Puts the dispositions back as they were before `init`.
    mutating func restore() {
        for (sig, old) in previous {
            var o = old
            sigaction(sig, &o, nil)
        }
        previous.removeAll()
    }

    /// The pending signal, if any.
    static var pending: Int32? {
        let s = pendingSignal.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }
}

/// On a crash (a Swift trap is SIGILL or SIGTRAP; also SIGSEGV, SIGBUS, SIGFPE, SIGABRT) leave
/// curses mode before dying, as htop does, so the user's shell is usable. `endwin` is not
/// async-signal-safe, but the process is about to die anyway. The handler then puts back the
/// previous action (the Swift runtime's backtracer, or the default) and re-raises, so the crash
/// report, exit status and core dump are those of the original crash.
enum CrashTerminalRestore {
    static let fatalSignals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT]

    static func install() {
        for sig in fatalSignals {
            var action = sigaction()
            #if canImport(Darwin)
            action.__sigaction_u.__sa_handler = crashHandler
            #else
            action.__sigaction_handler.sa_handler = crashHandler
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(sig, &action, previousCrashActions + Int(sig))
        }
    }

    /// Puts the previous actions back once the terminal is restored normally.
    static func uninstall() {
        for sig in fatalSignals { sigaction(sig, previousCrashActions + Int(sig), nil) }
    }
}

/// Previous actions by signal number, written before the handler is installed and only read by
/// it: a fixed allocation, so the handler neither allocates nor locks.
nonisolated(unsafe) private let previousCrashActions: UnsafeMutablePointer<sigaction> = {
    let p = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
    p.initialize(repeating: sigaction(), count: 65)
    return p
}()

private func crashHandler(_ sig: Int32) {
    endwin()
    let message = "\nencmon: terminated by signal \(sig); terminal restored\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
    sigaction(sig, previousCrashActions + Int(sig), nil)
    raise(sig)
}
