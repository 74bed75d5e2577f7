#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

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
