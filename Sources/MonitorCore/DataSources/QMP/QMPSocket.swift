#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A connected stream socket to QEMU's monitor: connect, write all, and a read that waits with
/// poll(2) on the socket and an optional wake descriptor, so a cancelled reader never blocks.
/// Owned by one thread; closes its descriptor on deinit.
final class QMPSocket {
    let fileDescriptor: Int32
    private var isClosed = false

    /// Takes ownership of a connected descriptor (a socketpair end in tests).
    init(adopting fd: Int32) { fileDescriptor = fd }

    static func connect(path: String) throws(QMPError) -> QMPSocket {
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
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        if rc != 0 {
            let e = errno
            Glibc.close(fd)
            throw .cannotConnect(path: path, errno: e)
        }
        return QMPSocket(adopting: fd)
    }

    deinit { close() }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fileDescriptor)
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

    enum ReadResult { case bytes(Int), endOfStream, timedOut, woken }

    /// Waits up to `timeoutMilliseconds` (-1: forever) for data or the wake descriptor, then reads
    /// at most `into.count` bytes.
    func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMilliseconds: Int32, wake: Int32?) throws(QMPError) -> ReadResult {
        var fds = [pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)]
        if let wake { fds.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0)) }
        let ready = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
        if ready < 0 {
            // A signal: the caller's loop re-checks its deadline and cancellation.
            if errno == EINTR { return .timedOut }
            throw .readFailed(errno: errno)
        }
        if fds.count > 1 && fds[1].revents != 0 { return .woken }
        if ready == 0 { return .timedOut }
        let n = recv(fileDescriptor, buffer.baseAddress, buffer.count, 0)
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return .timedOut }
            throw .readFailed(errno: errno)
        }
        return n == 0 ? .endOfStream : .bytes(n)
    }
}
