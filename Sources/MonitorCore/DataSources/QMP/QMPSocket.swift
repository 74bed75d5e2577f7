import SystemLibc

/// A connected stream socket to QEMU's monitor: connect, write all, and a read that waits with
/// poll(2) on the socket and an optional wake descriptor, so a cancelled reader never blocks.
/// Owned by one thread; closes its descriptor on deinit.
final class QMPSocket {
    let fileDescriptor: Int32
    private var isClosed = false

    /// Takes ownership of a connected descriptor (a socketpair end in tests).
    init(adopting fd: Int32) { fileDescriptor = fd }

    static func connecting(to path: String) throws(QMPError) -> QMPSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity else { throw .socketPathTooLong(path) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .cannotConnect(path: path, errno: errno) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + 1)
        // Non-blocking connect: a listener whose backlog is full (QEMU serves one client per
        // monitor and leaves the others queued) fails with EAGAIN instead of blocking forever.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        if rc != 0 {
            let e = errno
            close(fd)
            throw .cannotConnect(path: path, errno: e)
        }
        _ = fcntl(fd, F_SETFL, flags)
        return QMPSocket(adopting: fd)
    }

    deinit { disconnect() }

    func disconnect() {
        guard !isClosed else { return }
        isClosed = true
        close(fileDescriptor)
    }

    /// Sends every byte; MSG_NOSIGNAL so a vanished QEMU is an error, not SIGPIPE.
    func writeAll(_ bytes: [UInt8]) throws(QMPError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fileDescriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .writeFailed(errno: errno)
            }
            offset += n
        }
    }

    enum ReadResult { case bytes(Int), endOfStream, timedOut, cancelled }

    /// Waits up to `timeoutMilliseconds` for data or the cancellation signal, then reads at most
    /// `buffer.count` bytes. A signal handler running (EINTR) counts as a timeout: the caller's
    /// loop re-checks its deadline.
    func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMilliseconds: Int32,
              cancellation: CancellationSignal) throws(QMPError) -> ReadResult {
        let readiness: Readiness
        do {
            readiness = try waitForReadable(fileDescriptor, or: cancellation, timeoutMilliseconds: timeoutMilliseconds)
        } catch {
            guard case .cannotWait(_, let e) = error else { throw .readFailed(errno: EINVAL) }
            throw .readFailed(errno: e)
        }
        switch readiness {
        case .cancelled: return .cancelled
        case .timedOut, .interrupted: return .timedOut
        case .readable: break
        }
        let n = recv(fileDescriptor, buffer.baseAddress, buffer.count, 0)
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return .timedOut }
            throw .readFailed(errno: errno)
        }
        return n == 0 ? .endOfStream : .bytes(n)
    }
}
