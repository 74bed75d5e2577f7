/// The KVM binary statistics format read through `KVM_GET_STATS_FD` (include/uapi/linux/kvm.h,
/// Documentation/virt/kvm/api.rst "KVM_GET_STATS_FD"): a header, an id string, descriptors and a
/// data block, each where the header's offsets say. Native endian. Everything here is pure over
/// byte buffers, so hostile or truncated input gives a `KVMStatsFormatError`, never a trap.

/// `struct kvm_stats_header`, 24 bytes.
public struct KVMStatsHeader: Sendable, Hashable {
    public static let byteCount = 24
    /// Largest name field accepted (the kernel uses 48, KVM_STATS_NAME_SIZE).
    public static let maxNameSize: UInt32 = 4096
    /// Most descriptors accepted (x86 has under a hundred).
    public static let maxDescriptors: UInt32 = 65_536

    public var flags: UInt32
    public var nameSize: UInt32
    public var descriptorCount: UInt32
    public var idOffset: UInt32
    public var descriptorsOffset: UInt32
    public var dataOffset: UInt32

    /// Bytes from one descriptor to the next: 16 fixed bytes plus the name field.
    public var descriptorStride: Int { 16 + Int(nameSize) }

    /// Bytes from the start of the file that hold the id and all descriptors.
    public var schemaEnd: Int {
        max(Int(idOffset) + Int(nameSize), Int(descriptorsOffset) + Int(descriptorCount) * descriptorStride)
    }

    public init(flags: UInt32 = 0, nameSize: UInt32, descriptorCount: UInt32, idOffset: UInt32,
                descriptorsOffset: UInt32, dataOffset: UInt32) {
        self.flags = flags; self.nameSize = nameSize; self.descriptorCount = descriptorCount
        self.idOffset = idOffset; self.descriptorsOffset = descriptorsOffset; self.dataOffset = dataOffset
    }

    /// Reads and checks the header at the start of `bytes`.
    public static func parse(_ bytes: [UInt8]) throws(KVMStatsFormatError) -> KVMStatsHeader {
        let r = NativeBytes(bytes, what: "stats header")
        try r.require(0, byteCount)
        let h = KVMStatsHeader(flags: r.u32(0), nameSize: r.u32(4), descriptorCount: r.u32(8),
                               idOffset: r.u32(12), descriptorsOffset: r.u32(16), dataOffset: r.u32(20))
        guard h.nameSize > 0, h.nameSize <= maxNameSize else {
            throw .badHeader("name size \(h.nameSize) (expected 1...\(maxNameSize))")
        }
        guard h.descriptorCount <= maxDescriptors else {
            throw .badHeader("\(h.descriptorCount) descriptors (at most \(maxDescriptors))")
        }
        return h
    }
}

/// What a statistic measures and how (the descriptor's flags).
public struct KVMStatFlags: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Only ever grows (exits, hypercalls): rates come from differences.
        case cumulative
        /// A current level (pages_4k).
        case instant
        /// A high-water mark.
        case peak
        case linearHistogram
        case logarithmicHistogram
        case unknown(UInt32)
    }
    public enum Unit: Sendable, Hashable { case none, bytes, seconds, cycles, boolean, unknown(UInt32) }

    public var raw: UInt32

    public init(raw: UInt32) { self.raw = raw }

    /// Bits 3:0 (KVM_STATS_TYPE_*).
    public var kind: Kind {
        switch raw & 0xF {
        case 0: .cumulative
        case 1: .instant
        case 2: .peak
        case 3: .linearHistogram
        case 4: .logarithmicHistogram
        case let other: .unknown(other)
        }
    }

    /// Bits 7:4 (KVM_STATS_UNIT_*).
    public var unit: Unit {
        switch raw & 0xF0 {
        case 0x00: .none
        case 0x10: .bytes
        case 0x20: .seconds
        case 0x30: .cycles
        case 0x40: .boolean
        case let other: .unknown(other)
        }
    }

    /// Bits 11:8 (KVM_STATS_BASE_*): 10 or 2, nil when unknown.
    public var base: Int? {
        switch raw & 0xF00 {
        case 0x000: 10
        case 0x100: 2
        default: nil
        }
    }
}

/// `struct kvm_stats_desc` with its name.
public struct KVMStatDescriptor: Sendable, Hashable {
    public var name: String
    public var flags: KVMStatFlags
    /// value = raw × base^exponent (for example -9 with unit seconds: nanoseconds).
    public var exponent: Int16
    /// Number of u64 values (1, or the bucket count of a histogram).
    public var valueCount: Int
    /// Byte offset of the first value in the data block.
    public var dataOffset: Int
    public var bucketSize: UInt32

    public init(name: String, flags: KVMStatFlags, exponent: Int16, valueCount: Int, dataOffset: Int, bucketSize: UInt32) {
        self.name = name; self.flags = flags; self.exponent = exponent
        self.valueCount = valueCount; self.dataOffset = dataOffset; self.bucketSize = bucketSize
    }

    /// A plain event count: cumulative, no unit, one value. These become model counters.
    public var isEventCount: Bool { flags.kind == .cumulative && flags.unit == .none && valueCount == 1 }
}

/// The id and descriptors: read once per stats descriptor.
public struct KVMStatsSchema: Sendable, Hashable {

    public var header: KVMStatsHeader
    /// `kvm-<pid>` for a VM, `kvm-<pid>/vcpu-<index>` for a vCPU.
    public var id: String
    public var descriptors: [KVMStatDescriptor]
    /// Bytes of the data block that the descriptors cover.
    public var dataSize: Int

    /// Parses header, id and descriptors from the start of a stats file image (at least
    /// `header.schemaEnd` bytes). Every offset and size is checked against the buffer.
    public static func parse(_ image: [UInt8]) throws(KVMStatsFormatError) -> KVMStatsSchema {
        let header = try KVMStatsHeader.parse(image)
        let r = NativeBytes(image, what: "stats file")
        let nameSize = Int(header.nameSize)
        let id = try r.cString(at: Int(header.idOffset), size: nameSize, what: "id")
        var descriptors: [KVMStatDescriptor] = []
        descriptors.reserveCapacity(Int(header.descriptorCount))
        var dataSize = 0
        for index in 0..<Int(header.descriptorCount) {
            let at = Int(header.descriptorsOffset) + index * header.descriptorStride
            try r.require(at, header.descriptorStride, what: "descriptor \(index)")
            let name = try r.cString(at: at + 16, size: nameSize, what: "descriptor \(index) name")
            let count = Int(r.u16(at + 6))
            let offset = Int(r.u32(at + 8))
            guard count >= 1 else { throw .badDescriptor(name: name, reason: "size 0") }
            guard offset % 8 == 0 else { throw .badDescriptor(name: name, reason: "data offset \(offset) not 8-byte aligned") }
            let end = offset + count * 8
            dataSize = max(dataSize, end)
            descriptors.append(KVMStatDescriptor(
                name: name, flags: KVMStatFlags(raw: r.u32(at)), exponent: Int16(bitPattern: r.u16(at + 4)),
                valueCount: count, dataOffset: offset, bucketSize: r.u32(at + 12)))
        }
        return KVMStatsSchema(header: header, id: id, descriptors: descriptors, dataSize: dataSize)
    }

    /// The values of every descriptor, in descriptor order, from a data block of `dataSize` bytes.
    public func values(fromData data: [UInt8]) throws(KVMStatsFormatError) -> [[UInt64]] {
        let r = NativeBytes(data, what: "stats data")
        guard data.count >= dataSize else { throw .truncated(what: "stats data", needed: dataSize, available: data.count) }
        return descriptors.map { d in (0..<d.valueCount).map { r.u64(d.dataOffset + 8 * $0) } }
    }
}

public enum KVMStatsFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    case truncated(what: String, needed: Int, available: Int)
    case badHeader(String)
    case badDescriptor(name: String, reason: String)

    public var description: String {
        switch self {
        case .truncated(let what, let needed, let available):
            "KVM stats: \(what) needs bytes up to \(needed), only \(available) available"
        case .badHeader(let reason): "KVM stats: bad header: \(reason)"
        case .badDescriptor(let name, let reason): "KVM stats: bad descriptor '\(name)': \(reason)"
        }
    }
}

/// Bounds-checked native-endian loads from a byte array.
struct NativeBytes {
    let bytes: [UInt8]
    let what: String

    init(_ bytes: [UInt8], what: String) { self.bytes = bytes; self.what = what }

    /// Throws unless `offset ..< offset + count` lies inside the buffer (no arithmetic can trap:
    /// offsets come from u32 fields and counts are bounded by the header checks).
    func require(_ offset: Int, _ count: Int, what part: String? = nil) throws(KVMStatsFormatError) {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard offset >= 0, count >= 0, !overflow, end <= bytes.count else {
            throw .truncated(what: part ?? what, needed: overflow ? Int.max : end, available: bytes.count)
        }
    }

    // Callers check bounds first; these load without further checks.
    func u16(_ at: Int) -> UInt16 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) } }
    func u32(_ at: Int) -> UInt32 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) } }
    func u64(_ at: Int) -> UInt64 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) } }

    /// A NUL-terminated string in a field of `size` bytes (the whole field when there is no NUL).
    func cString(at offset: Int, size: Int, what part: String) throws(KVMStatsFormatError) -> String {
        try require(offset, size, what: part)
        let field = bytes[offset..<(offset + size)]
        return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }
}
