import SystemLibc

/// A file descriptor this process owns: closed exactly once, when the last reference goes.
///
/// Sendable: the only state is an immutable Int32, and close(2) runs in `deinit`, after every
/// user has dropped its reference.
public final class OwnedFileDescriptor: Sendable {
    public let rawValue: Int32

    public init(adopting rawValue: Int32) {
        self.rawValue = rawValue
    }

    deinit {
        // close(2) must not be retried on EINTR on Linux: the descriptor is gone either way.
        _ = Glibc.close(rawValue)
    }

    /// open(2) read-only, close-on-exec.
    public static func openReadOnly(_ path: String) throws(SystemCallError) -> OwnedFileDescriptor {
        let fd = try retryingOnInterrupt("open \(path)") { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        return OwnedFileDescriptor(adopting: fd)
    }

    /// pread(2) of up to `count` bytes at `offset`, repeated over short reads; fewer bytes only at end of file.
    public func read(count: Int, at offset: Int, what: String) throws(SystemCallError) -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let start = filled
            let n = try retryingOnInterrupt("pread \(what) at \(offset + start)") {
                bytes.withUnsafeMutableBytes { buffer in
                    Glibc.pread(rawValue, buffer.baseAddress! + start, count - start, off_t(offset + start))
                }
            }
            if n == 0 { break }
            filled += n
        }
        bytes.removeLast(count - filled)
        return bytes
    }

    /// The whole file, read from the start (procfs files report size 0, so read until EOF).
    public func readToEnd(what: String, limit: Int = 1 << 24) throws(SystemCallError) -> [UInt8] {
        var out: [UInt8] = []
        let chunk = 65_536
        while out.count < limit {
            let part = try read(count: min(chunk, limit - out.count), at: out.count, what: what)
            out += part
            if part.count < chunk { break }
        }
        return out
    }
}
