import Foundation

/// QEMU's version from the greeting.
public struct QMPVersion: Sendable, Hashable, CustomStringConvertible {
    public var major: Int, minor: Int, micro: Int
    public var package: String
    public var description: String { "\(major).\(minor).\(micro)" }
}

/// An asynchronous QMP event, stamped at receipt with the reader's monotonic clock. QEMU's own
/// wall-clock `timestamp` is kept as data only.
public struct QMPEvent: Sendable, Hashable {
    public var name: String
    public var data: QMPJSON
    /// CLOCK_MONOTONIC seconds when the line was read.
    public var receivedAt: Double
    /// QEMU's `timestamp` (seconds since the epoch), nil when absent.
    public var qemuWallClock: Double?
}

/// One line of the QMP stream (docs/interop/qmp-spec.rst): the greeting, a command's reply
/// (success or error, matched by `id`), or an event.
enum QMPMessage: Sendable, Hashable {
    case greeting(QMPVersion)
    case success(id: QMPJSON?, result: QMPJSON)
    case failure(id: QMPJSON?, errorClass: String, description: String)
    case event(QMPEvent)

    static func decode(_ line: ArraySlice<UInt8>, receivedAt: Double) throws(QMPError) -> QMPMessage {
        let json: QMPJSON
        do {
            json = try JSONDecoder().decode(QMPJSON.self, from: Data(line))
        } catch {
            throw .malformed(reason: "not JSON", excerpt: excerpt(line))
        }
        guard let o = json.object else { throw .malformed(reason: "not a JSON object", excerpt: excerpt(line)) }
        if let result = o["return"] {
            return .success(id: o["id"], result: result)
        }
        if let error = o["error"] {
            return .failure(id: o["id"], errorClass: error["class"]?.string ?? "?", description: error["desc"]?.string ?? "")
        }
        if let name = o["event"]?.string {
            var wall: Double?
            if let s = o["timestamp"]?["seconds"]?.double, let us = o["timestamp"]?["microseconds"]?.double {
                wall = s + us / 1e6
            }
            return .event(QMPEvent(name: name, data: o["data"] ?? .null, receivedAt: receivedAt, qemuWallClock: wall))
        }
        if let q = o["QMP"] {
            let v = q["version"]?["qemu"]
            func part(_ k: String) -> Int { v?[k]?.uint64.map { Int(clamping: $0) } ?? 0 }
            return .greeting(QMPVersion(major: part("major"), minor: part("minor"), micro: part("micro"),
                                        package: q["version"]?["package"]?.string ?? ""))
        }
        throw .malformed(reason: "neither reply, event nor greeting", excerpt: excerpt(line))
    }
}

/// A command line as QMP wants it: `{"execute": ..., "arguments": ..., "id": ...}` and a newline.
func encodeCommand(_ name: String, arguments: QMPJSON?, id: UInt64) -> [UInt8] {
    var o: [String: QMPJSON] = ["execute": .string(name), "id": .uint(id)]
    if let arguments { o["arguments"] = arguments }
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    // Encoding a tree of strings, numbers and objects cannot fail; an empty command would be
    // answered with an error reply, never hang.
    let data = (try? encoder.encode(QMPJSON.object(o))) ?? Data()
    return Array(data) + [UInt8(ascii: "\n")]
}
