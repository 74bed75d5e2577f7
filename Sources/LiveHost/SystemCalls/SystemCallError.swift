import SystemLibc

/// A failed system call: which call, on what, and the errno it returned.
public struct SystemCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The call with its argument, as a user would recognise it: `pidfd_open(1234)`, `readlink /proc/1/fd/3`.
    public var call: String
    public var errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(Self.message(for: errno))" }

    /// True for the errnos that mean "not allowed" rather than "not there" or "broken".
    public var isPermissionDenied: Bool { errno == EPERM || errno == EACCES }

    public static func message(for errno: Int32) -> String {
        guard let text = strerror(errno) else { return "errno \(errno)" }
        return String(cString: text)
    }
}

/// Runs `body` until it does not fail with EINTR: the one place encmon retries an interrupted call.
/// A negative result becomes a `SystemCallError` carrying `call` and errno.
@inline(__always)
func retryingOnInterrupt<Result: BinaryInteger>(_ call: @autoclosure () -> String,
                                                _ body: () -> Result) throws(SystemCallError) -> Result {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemCallError(call: call(), errno: code)
    }
}
