/// One open KVM statistics descriptor (from `KVM_GET_STATS_FD`): the schema read once, the data
/// block re-read with pread on every sample, as the API asks.
public final class KVMStatsFile: Sendable {
    /// Largest header + descriptors or data block accepted from the kernel.
    public static let maxReadSize = 16 << 20

    public let schema: KVMStatsSchema
    /// What this is, for messages: `VM of pid 1234`, `vCPU 0 of pid 1234`.
    public let label: String
    private let descriptor: OwnedFileDescriptor

    public init(descriptor: OwnedFileDescriptor, label: String) throws(KVMStatsError) {
        self.descriptor = descriptor
        self.label = label
        let headerBytes = try Self.read(descriptor, count: KVMStatsHeader.byteCount, at: 0, label: label)
        let header = try Self.decode(label) { () throws(KVMStatsFormatError) in try KVMStatsHeader.parse(headerBytes) }
        guard header.schemaEnd <= Self.maxReadSize else {
            throw .format(label: label, .badHeader("id and descriptors end at byte \(header.schemaEnd), past \(Self.maxReadSize)"))
        }
        let image = try Self.read(descriptor, count: header.schemaEnd, at: 0, label: label)
        schema = try Self.decode(label) { () throws(KVMStatsFormatError) in try KVMStatsSchema.parse(image) }
        guard schema.dataSize <= Self.maxReadSize else {
            throw .format(label: label, .badHeader("data block of \(schema.dataSize) bytes, past \(Self.maxReadSize)"))
        }
    }

    /// Current values of every descriptor, in descriptor order.
    public func readValues() throws(KVMStatsError) -> [[UInt64]] {
        let data = try Self.read(descriptor, count: schema.dataSize, at: Int(schema.header.dataOffset), label: label)
        return try Self.decode(label) { () throws(KVMStatsFormatError) in try schema.values(fromData: data) }
    }

    private static func read(_ fd: OwnedFileDescriptor, count: Int, at offset: Int, label: String) throws(KVMStatsError) -> [UInt8] {
        do { return try fd.read(count: count, at: offset, what: "stats of \(label)") } catch { throw .systemCall(error) }
    }

    private static func decode<T>(_ label: String, _ body: () throws(KVMStatsFormatError) -> T) throws(KVMStatsError) -> T {
        do { return try body() } catch { throw .format(label: label, error) }
    }
}
