import SystemLibc
import Synchronization

/// What can go wrong setting up or waiting in a push source; each case carries the errno.
public enum PushSourceError: Error, Sendable, Hashable, CustomStringConvertible {
    case cannotCreateSignal(errno: Int32)
    case cannotWait(fileDescriptor: Int32, errno: Int32)
    case cannotStartThread(errno: Int32)
    case alreadyStarted

    public var description: String {
        switch self {
        case .cannotCreateSignal(let e): "cannot create a wake-up descriptor: \(String(cString: strerror(e)))"
        case .cannotWait(let fd, let e): "cannot wait on descriptor \(fd): \(String(cString: strerror(e)))"
        case .cannotStartThread(let e): "cannot start a reader thread: \(String(cString: strerror(e)))"
        case .alreadyStarted: "the source was already started"
        }
    }
}

/// Wakes a blocked reader: a descriptor (a pipe's read end) that becomes
/// readable once cancelled, so a reader polling it beside its data descriptor never sleeps
/// through a quit.
public final class CancellationSignal: Sendable {
    /// The descriptor to poll.
    public let fileDescriptor: Int32
    /// The pipe's write end, written once by `cancel`.
    private let writeDescriptor: Int32
    private let cancelled = Atomic<Bool>(false)

    public init() throws(PushSourceError) {
        // A pipe rather than an eventfd: Swift's Glibc module does not carry <sys/eventfd.h>.
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw .cannotCreateSignal(errno: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        fileDescriptor = fds[0]
        writeDescriptor = fds[1]
    }

    deinit {
        close(fileDescriptor)
        close(writeDescriptor)
    }

    /// Makes the descriptor readable for good. Idempotent; safe from any thread.
    public func cancel() {
        guard !cancelled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var one: UInt64 = 1
        // 8 bytes to an empty pipe cannot be short; EINTR before any byte is retried.
        while write(writeDescriptor, &one, MemoryLayout<UInt64>.size) < 0 && errno == EINTR {}
    }

    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }
}

/// Why `waitForReadable` returned.
public enum Readiness: Sendable, Hashable {
    /// The data descriptor has bytes (or end of file, or an error that `read` will report).
    case readable
    /// The signal was cancelled: stop reading.
    case cancelled
    /// The timeout passed.
    case timedOut
    /// A signal handler ran (EINTR): the caller's loop decides whether to go on (so SIGINT is seen).
    case interrupted
}

/// Waits with poll(2) until `fd` is readable or `signal` is cancelled, or `timeoutMilliseconds`
/// pass (-1: no timeout). EINTR is returned as `.interrupted`, never retried here.
public func waitForReadable(_ fd: Int32, or signal: CancellationSignal,
                            timeoutMilliseconds: Int32 = -1) throws(PushSourceError) -> Readiness {
    if signal.isCancelled { return .cancelled }
    var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
               pollfd(fd: signal.fileDescriptor, events: Int16(POLLIN), revents: 0)]
    let rc = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
    if rc < 0 {
        if errno == EINTR { return .interrupted }
        throw .cannotWait(fileDescriptor: fd, errno: errno)
    }
    if fds[1].revents != 0 || signal.isCancelled { return .cancelled }
    // POLLHUP and POLLERR count as readable: the next read returns 0 or the error.
    if fds[0].revents != 0 { return .readable }
    return .timedOut
}
