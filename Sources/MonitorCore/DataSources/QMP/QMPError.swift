/// Why talking to QEMU's monitor failed. Messages name the socket or command the user can act on.
public enum QMPError: Error, Sendable, Hashable, CustomStringConvertible {
    case socketPathTooLong(String)
    case cannotConnect(path: String, errno: Int32)
    /// No complete reply within the time allowed.
    case timedOut(waitingFor: String, seconds: Double)
    /// The peer closed the connection (QEMU exited or dropped the client).
    case closed(waitingFor: String)
    case readFailed(errno: Int32)
    case writeFailed(errno: Int32)
    /// A line longer than the framer accepts: not QMP, or a reply we refuse to buffer.
    case lineTooLong(limit: Int)
    /// A line that is not JSON, or JSON that is not a QMP message.
    case malformed(reason: String, excerpt: String)
    /// The first message was not a QMP greeting.
    case notQMP(excerpt: String)
    /// QEMU answered the command with an error.
    case commandFailed(command: String, errorClass: String, description: String)
    /// The reader was woken by its cancellation signal.
    case cancelled

    public var description: String {
        switch self {
        case .socketPathTooLong(let p): "QMP socket path is longer than a Unix socket address allows: \(p)"
        case .cannotConnect(let p, let e) where e == EAGAIN:
            "QMP socket \(p) is busy: QEMU serves one client per monitor (add a second -qmp socket for encmon)"
        case .cannotConnect(let p, let e): "cannot connect to QMP socket \(p): \(errnoText(e))"
        case .timedOut(let w, let s) where w == QMPClient.greetingName:
            "no QMP greeting within \(s) s: another client holds this monitor (QEMU serves one at a time; add a second -qmp socket for encmon)"
        case .timedOut(let w, let s): "QEMU did not answer \(w) within \(s) s"
        case .closed(let w): "QEMU closed the QMP connection (waiting for \(w))"
        case .readFailed(let e): "reading the QMP socket failed: \(errnoText(e))"
        case .writeFailed(let e): "writing to the QMP socket failed: \(errnoText(e))"
        case .lineTooLong(let n): "QMP message longer than \(n) bytes"
        case .malformed(let r, let x): "malformed QMP message (\(r)): \(x)"
        case .notQMP(let x): "the socket did not greet with QMP: \(x)"
        case .commandFailed(let c, let k, let d): "\(c) failed: \(k): \(d)"
        case .cancelled: "cancelled"
        }
    }
}

import SystemLibc

func errnoText(_ e: Int32) -> String { String(cString: strerror(e)) }

/// A printable start of a line that failed to decode: at most 120 bytes, invalid UTF-8 replaced.
func excerpt(_ bytes: some Collection<UInt8>) -> String {
    let head = String(decoding: bytes.prefix(120), as: UTF8.self)
    return bytes.count > 120 ? head + "..." : head
}
