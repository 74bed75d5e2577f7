#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MonitorCore

/// One request of the daemon protocol, version 1: a JSON object on one line,
/// `{"v":1,"id":N,"op":"list"|"snapshot"|"subscribe","vm":PID|"NAME"}`. Unknown keys are ignored
/// so later clients can add optional fields; everything else is checked.
public struct DaemonRequest: Sendable, Hashable {
    public static let version = 1
    /// Longest request line accepted, newline excluded.
    public static let maxLineBytes = 4096

    public enum Operation: String, Sendable, Hashable, CaseIterable {
        case list, snapshot, subscribe
    }

    public var id: Int64
    public var operation: Operation
    public var vm: ProcessSelector?

    public init(id: Int64, operation: Operation, vm: ProcessSelector? = nil) {
        self.id = id; self.operation = operation; self.vm = vm
    }

    /// The request as a line (without the newline), as a client sends it.
    public var line: String {
        var fields: [(String, JSONValue)] = [("v", .int(Int64(Self.version))), ("id", .int(id)), ("op", .string(operation.rawValue))]
        switch vm {
        case .pid(let p): fields.append(("vm", .int(Int64(p))))
        case .name(let n): fields.append(("vm", .string(n)))
        case nil: break
        }
        return JSONValue.object(fields).serialized()
    }

    /// Parses and validates one request line. The error carries the request's id when one could be read.
    public static func parse(_ bytes: some Collection<UInt8>) -> Result<DaemonRequest, DaemonProtocolError> {
        guard bytes.count <= maxLineBytes else { return .failure(.oversized(id: nil, limit: maxLineBytes)) }
        let raw: RawRequest
        do {
            raw = try JSONDecoder().decode(RawRequest.self, from: Data(bytes))
        } catch let e as DaemonProtocolError {
            return .failure(e)
        } catch {
            return .failure(.malformed(id: nil, reason: "not a JSON object"))
        }
        guard let id = raw.id else { return .failure(.malformed(id: nil, reason: "missing \"id\" (an integer)")) }
        guard let v = raw.v else { return .failure(.malformed(id: id, reason: "missing \"v\" (the protocol version, 1)")) }
        guard v == version else { return .failure(.unsupportedVersion(id: id, version: v)) }
        guard let opName = raw.op else { return .failure(.malformed(id: id, reason: "missing \"op\"")) }
        guard let op = Operation(rawValue: opName) else { return .failure(.unknownOperation(id: id, op: opName)) }
        if op != .list && raw.vm == nil { return .failure(.malformed(id: id, reason: "\"\(op.rawValue)\" needs \"vm\" (a pid or a name)")) }
        return .success(DaemonRequest(id: id, operation: op, vm: op == .list ? nil : raw.vm))
    }
}

/// The fields a request may have, each type-checked; nil when absent.
private struct RawRequest: Decodable {
    var v: Int?
    var id: Int64?
    var op: String?
    var vm: ProcessSelector?

    enum Keys: String, CodingKey { case v, id, op, vm }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        id = try? c.decodeIfPresent(Int64.self, forKey: .id)
        if c.contains(.id) && id == nil { throw DaemonProtocolError.malformed(id: nil, reason: "\"id\" must be an integer") }
        guard id.map({ $0 >= 0 && $0 <= 1 << 53 }) ?? true else {
            throw DaemonProtocolError.malformed(id: nil, reason: "\"id\" must be between 0 and 2^53")
        }
        v = try? c.decodeIfPresent(Int.self, forKey: .v)
        if c.contains(.v) && v == nil { throw DaemonProtocolError.malformed(id: id, reason: "\"v\" must be an integer") }
        op = try? c.decodeIfPresent(String.self, forKey: .op)
        if c.contains(.op) && op == nil { throw DaemonProtocolError.malformed(id: id, reason: "\"op\" must be a string") }
        if !c.contains(.vm) || (try? c.decodeNil(forKey: .vm)) == true {
            vm = nil
        } else if let p = try? c.decode(Int64.self, forKey: .vm) {
            guard p > 0, p <= Int64(Int32.max) else { throw DaemonProtocolError.malformed(id: id, reason: "\"vm\" pid \(p) is out of range") }
            vm = .pid(Int32(p))
        } else if let n = try? c.decode(String.self, forKey: .vm) {
            guard !n.isEmpty, n.utf8.count <= 256 else { throw DaemonProtocolError.malformed(id: id, reason: "\"vm\" name must be 1 to 256 bytes") }
            vm = Int32(n).map { $0 > 0 ? .pid($0) : .name(n) } ?? .name(n)
        } else {
            throw DaemonProtocolError.malformed(id: id, reason: "\"vm\" must be a pid or a name")
        }
    }
}

/// Why the daemon refuses a request or a connection; sent as an error reply.
public enum DaemonProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformed(id: Int64?, reason: String)
    case oversized(id: Int64?, limit: Int)
    case unsupportedVersion(id: Int64, version: Int)
    case unknownOperation(id: Int64, op: String)
    case notFound(id: Int64, vm: ProcessSelector)
    case permissionDenied(uid: UInt32, group: String)
    case tooSlow(id: Int64)

    /// A stable, machine-readable code.
    public var code: String {
        switch self {
        case .malformed: "malformed"
        case .oversized: "oversized"
        case .unsupportedVersion: "unsupported-version"
        case .unknownOperation: "unknown-op"
        case .notFound: "not-found"
        case .permissionDenied: "permission-denied"
        case .tooSlow: "too-slow"
        }
    }

    public var id: Int64? {
        switch self {
        case .malformed(let id, _), .oversized(let id, _): id
        case .unsupportedVersion(let id, _), .unknownOperation(let id, _), .notFound(let id, _), .tooSlow(let id): id
        case .permissionDenied: nil
        }
    }

    public var description: String {
        switch self {
        case .malformed(_, let r): "malformed request: \(r)"
        case .oversized(_, let limit): "request longer than \(limit) bytes"
        case .unsupportedVersion(_, let v): "protocol version \(v) is not supported (this daemon speaks 1)"
        case .unknownOperation(_, let op): "unknown op '\(op)' (expected list, snapshot or subscribe)"
        case .notFound(_, let vm): "no tracked process \(vm)"
        case .permissionDenied(let uid, let g): "uid \(uid) is not in the socket's group \(g)"
        case .tooSlow: "subscriber fell too far behind; subscribe again"
        }
    }
}
