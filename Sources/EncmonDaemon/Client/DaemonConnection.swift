import SystemLibc
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MonitorCore

/// Why a viewer cannot use the daemon.
public enum DaemonClientError: Error, CustomStringConvertible, Sendable {
    case cannotConnect(path: String, errno: Int32)
    /// The daemon answered with an error reply.
    case refused(path: String, code: String, message: String)
    case protocolViolation(path: String, reason: String)
    case closed(path: String)

    public var description: String {
        switch self {
        case .cannotConnect(let p, let e): "cannot connect to the encmon daemon at \(p): \(String(cString: strerror(e)))"
        case .refused(let p, let code, let m): "encmon daemon at \(p) refused (\(code)): \(m)"
        case .protocolViolation(let p, let r): "encmon daemon at \(p) sent something unexpected: \(r)"
        case .closed(let p): "encmon daemon at \(p) closed the connection"
        }
    }
}

/// One reply line of protocol version 1, as a client reads it.
public struct DaemonReplyLine: Decodable, Sendable {
    public struct ErrorBody: Decodable, Sendable { public var code: String; public var message: String }
    public struct VMInfo: Decodable, Sendable, Hashable {
        public var pid: Int32
        public var name: String
        public var trackingSinceStart: Bool
        public var incompleteSince: Double?
        public var exited: Bool
        public var events: UInt64
        public var sharedBytes: UInt64
        public var regions: Int
    }
    public var v: Int
    public var id: Int64?
    public var ok: Bool?
    public var error: ErrorBody?
    public var vm: VMInfo?
    public var vms: [VMInfo]?
    public var events: [String]?
    /// The model state a subscription starts from.
    public var model: Monitor?
    public var live: Bool?
    public var exited: Bool?
}

/// A blocking connection to the daemon's Unix socket: send request lines, read reply lines.
/// A class because it owns the socket.
public final class DaemonConnection {
    public let path: String
    let fd: Int32
    private var pending: [UInt8] = []
    /// Longest reply line accepted (a subscription's history arrives in chunks well below it).
    static let maxReplyBytes = 64 << 20

    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonClientError.cannotConnect(path: path, errno: errno) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            SystemLibc.close(fd)
            throw DaemonClientError.cannotConnect(path: path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            SystemLibc.close(fd)
            throw DaemonClientError.cannotConnect(path: path, errno: e)
        }
    }

    deinit { SystemLibc.close(fd) }

    public func send(_ request: DaemonRequest) throws { try sendLine(request.line) }

    /// Sends raw bytes (tests send malformed requests through this).
    public func sendLine(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { SystemLibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DaemonClientError.closed(path: path) }
            offset += n
        }
    }

    /// The next whole reply line, waiting at most `timeoutMilliseconds` (-1: forever); nil on timeout.
    public func readLine(timeoutMilliseconds: Int32) throws -> String? {
        while true {
            if let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                return line
            }
            guard pending.count <= Self.maxReplyBytes else {
                throw DaemonClientError.protocolViolation(path: path, reason: "reply longer than \(Self.maxReplyBytes) bytes")
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, timeoutMilliseconds)
            if r < 0 && errno == EINTR { return nil }
            if r == 0 { return nil }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard n > 0 else { throw DaemonClientError.closed(path: path) }
            pending.append(contentsOf: chunk[..<n])
        }
    }

    /// Reads and decodes the next reply; an error reply throws `refused`.
    public func readReply(timeoutMilliseconds: Int32) throws -> DaemonReplyLine? {
        guard let line = try readLine(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        let reply: DaemonReplyLine
        do { reply = try JSONDecoder().decode(DaemonReplyLine.self, from: Data(line.utf8)) } catch {
            throw DaemonClientError.protocolViolation(path: path, reason: "not a reply line: \(line.prefix(120))")
        }
        guard reply.v == DaemonRequest.version else {
            throw DaemonClientError.protocolViolation(path: path, reason: "protocol version \(reply.v)")
        }
        if reply.ok == false, let e = reply.error { throw DaemonClientError.refused(path: path, code: e.code, message: e.message) }
        return reply
    }

    /// Sends a request and waits for its reply (list, snapshot).
    public func request(_ request: DaemonRequest, timeoutMilliseconds: Int32 = 10_000) throws -> DaemonReplyLine {
        try send(request)
        while true {
            guard let reply = try readReply(timeoutMilliseconds: timeoutMilliseconds) else {
                throw DaemonClientError.protocolViolation(path: path, reason: "no reply within \(timeoutMilliseconds) ms")
            }
            if reply.id == request.id { return reply }
        }
    }
}
