@testable import LiveHost

/// Builds a KVM stats file image the way the kernel lays it out (header, id, descriptors, data),
/// with every offset overridable so tests can make hostile ones.
struct KVMStatsImage {
    struct Stat {
        var name: String
        var flags: UInt32 = 0
        var exponent: Int16 = 0
        var values: [UInt64]
        var bucketSize: UInt32 = 0
    }

    var id = "kvm-1234"
    var nameSize: UInt32 = 48
    var stats: [Stat]
    /// Gap between descriptors and data (the kernel puts none).
    var dataGap = 0

    var idOffset: UInt32 { 24 }
    var descriptorsOffset: UInt32 { idOffset + nameSize }
    var dataOffset: UInt32 { descriptorsOffset + UInt32(stats.count) * (16 + nameSize) + UInt32(dataGap) }

    /// The whole file, with each stat's values stored in order in the data block.
    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        for v in [0, nameSize, UInt32(stats.count), idOffset, descriptorsOffset, dataOffset] { out.append(v) }
        out.appendName(id, size: nameSize)
        var dataOffsetInBlock: UInt32 = 0
        for s in stats {
            out.append(s.flags)
            out.append(UInt16(bitPattern: s.exponent))
            out.append(UInt16(s.values.count))
            out.append(dataOffsetInBlock)
            out.append(s.bucketSize)
            out.appendName(s.name, size: nameSize)
            dataOffsetInBlock += UInt32(s.values.count * 8)
        }
        out += [UInt8](repeating: 0xEE, count: dataGap)
        for s in stats { for v in s.values { out.append(v) } }
        return out
    }
}

extension Array where Element == UInt8 {
    mutating func append<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value) { self.append(contentsOf: $0) }
    }
    mutating func appendName(_ name: String, size: UInt32) {
        var field = Array(name.utf8.prefix(Int(size)))
        field += [UInt8](repeating: 0, count: Int(size) - field.count)
        self += field
    }
    /// Overwrites a native-endian u32 at `offset`.
    mutating func setU32(_ value: UInt32, at offset: Int) {
        Swift.withUnsafeBytes(of: value) { for (i, b) in $0.enumerated() { self[offset + i] = b } }
    }
    mutating func setU16(_ value: UInt16, at offset: Int) {
        Swift.withUnsafeBytes(of: value) { for (i, b) in $0.enumerated() { self[offset + i] = b } }
    }
}
