import Foundation

/// A JSON value as QMP sends it, decoded by Foundation's `JSONDecoder`. Numbers keep their
/// integer form where they have one, so byte counters above 2^53 stay exact.
public indirect enum QMPJSON: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([QMPJSON])
    case object([String: QMPJSON])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let u = try? c.decode(UInt64.self) { self = .uint(u) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([QMPJSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: QMPJSON].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .uint(let u): try c.encode(u)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public subscript(key: String) -> QMPJSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var object: [String: QMPJSON]? { if case .object(let o) = self { o } else { nil } }

    /// A non-negative integer; a negative or fractional number is not one.
    public var uint64: UInt64? {
        switch self {
        case .int(let i): i >= 0 ? UInt64(i) : nil
        case .uint(let u): u
        default: nil
        }
    }

    /// Any finite number.
    public var double: Double? {
        switch self {
        case .int(let i): Double(i)
        case .uint(let u): Double(u)
        case .double(let d): d.isFinite ? d : nil
        default: nil
        }
    }
}
