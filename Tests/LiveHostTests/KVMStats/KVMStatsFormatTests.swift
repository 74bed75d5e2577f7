import Testing
@testable import MonitorCore
@testable import LiveHost

/// The stats format parsed from constructed images laid out as include/uapi/linux/kvm.h says.
@Suite struct KVMStatsFormatTests {
    static let sample = KVMStatsImage(id: "kvm-4242/vcpu-1", stats: [
        .init(name: "exits", flags: 0x000, values: [123_456_789]),
        .init(name: "halt_wait_ns", flags: 0x020, exponent: -9, values: [5_000_000_000]),
        .init(name: "pages_4k", flags: 0x001, values: [42]),
        .init(name: "max_mmu_page_hash_collisions", flags: 0x002, values: [7]),
        .init(name: "halt_poll_success_hist", flags: 0x124, exponent: -9, values: [1, 2, 3, 4, 5]),
        .init(name: "hypercalls", values: [UInt64.max]),
    ])

    @Test func parsesIdDescriptorsAndValues() throws {
        let image = Self.sample.bytes()
        let schema = try KVMStatsSchema.parse(image)
        #expect(schema.id == "kvm-4242/vcpu-1")
        #expect(schema.descriptors.map(\.name) == Self.sample.stats.map(\.name))
        #expect(schema.descriptors.map(\.valueCount) == Self.sample.stats.map(\.values.count))
        #expect(schema.descriptors[1].exponent == -9)
        let data = Array(image[Int(schema.header.dataOffset)...])
        #expect(try schema.values(fromData: data) == Self.sample.stats.map(\.values))
    }

    /// The reader follows the header's offsets: a name field of another size and a gap before the
    /// data block (neither of which the kernel uses today) still give the right values.
    @Test(arguments: [(UInt32(48), 0), (32, 0), (64, 24), (48, 4096)])
    func followsHeaderOffsets(nameSize: UInt32, gap: Int) throws {
        var image = Self.sample
        image.nameSize = nameSize
        image.dataGap = gap
        let bytes = image.bytes()
        let schema = try KVMStatsSchema.parse(bytes)
        #expect(schema.header.descriptorStride == 16 + Int(nameSize))
        #expect(schema.descriptors.map(\.name) == image.stats.map { String($0.name.prefix(Int(nameSize))) })
        #expect(try schema.values(fromData: Array(bytes[Int(schema.header.dataOffset)...])) == image.stats.map(\.values))
    }

    @Test func decodesFlags() {
        let cases: [(UInt32, KVMStatFlags.Kind, KVMStatFlags.Unit, Int?)] = [
            (0x000, .cumulative, .none, 10), (0x001, .instant, .none, 10), (0x002, .peak, .none, 10),
            (0x123, .linearHistogram, .seconds, 2), (0x004, .logarithmicHistogram, .none, 10),
            (0x010, .cumulative, .bytes, 10), (0x030, .cumulative, .cycles, 10), (0x041, .instant, .boolean, 10),
            (0x007, .unknown(7), .none, 10), (0x050, .cumulative, .unknown(0x50), 10), (0x200, .cumulative, .none, nil),
        ]
        for (raw, kind, unit, base) in cases {
            let f = KVMStatFlags(raw: raw)
            #expect(f.kind == kind, "flags \(raw)")
            #expect(f.unit == unit, "flags \(raw)")
            #expect(f.base == base, "flags \(raw)")
        }
    }

    @Test func onlyUnitlessCumulativeSingleValuesAreEventCounts() throws {
        let schema = try KVMStatsSchema.parse(Self.sample.bytes())
        #expect(schema.descriptors.filter(\.isEventCount).map(\.name) == ["exits", "hypercalls"])
    }

    // MARK: hostile input: errors, never traps

    @Test func everyTruncationIsAnError() throws {
        let bytes = Self.sample.bytes()
        let schemaEnd = try KVMStatsSchema.parse(bytes).header.schemaEnd
        for length in 0..<schemaEnd {
            #expect(throws: KVMStatsFormatError.self, "prefix of \(length) bytes") { try KVMStatsSchema.parse(Array(bytes.prefix(length))) }
        }
        let schema = try KVMStatsSchema.parse(bytes)
        let data = Array(bytes[Int(schema.header.dataOffset)...])
        for length in 0..<data.count {
            #expect(throws: KVMStatsFormatError.self) { try schema.values(fromData: Array(data.prefix(length))) }
        }
    }

    @Test(arguments: [
        (0, UInt32(0)), (4, 0), (4, 5000), (4, UInt32.max), (8, 1_000_000), (8, UInt32.max),
        (12, UInt32.max), (12, 600), (16, UInt32.max), (16, 10_000), (16, UInt32.max - 8),
    ] as [(Int, UInt32)])
    func bogusHeaderFieldsAreErrors(offset: Int, value: UInt32) {
        var bytes = Self.sample.bytes()
        bytes.setU32(value, at: offset)
        if offset == 0 { // flags are reserved, not checked: still parses
            #expect((try? KVMStatsSchema.parse(bytes)) != nil)
            return
        }
        #expect(throws: KVMStatsFormatError.self) { try KVMStatsSchema.parse(bytes) }
    }

    @Test func bogusDescriptorFieldsAreErrors() throws {
        let image = Self.sample
        let first = Int(image.descriptorsOffset)
        // size 0
        var bytes = image.bytes()
        bytes.setU16(0, at: first + 6)
        #expect(throws: KVMStatsFormatError.badDescriptor(name: "exits", reason: "size 0")) { try KVMStatsSchema.parse(bytes) }
        // misaligned data offset
        bytes = image.bytes()
        bytes.setU32(3, at: first + 8)
        #expect(throws: KVMStatsFormatError.self) { try KVMStatsSchema.parse(bytes) }
        // data offset far past the data block: the schema parses, the values do not
        bytes = image.bytes()
        bytes.setU32(UInt32.max & ~7, at: first + 8)
        let schema = try KVMStatsSchema.parse(bytes)
        #expect(schema.dataSize > bytes.count)
        #expect(throws: KVMStatsFormatError.self) { try schema.values(fromData: Array(bytes[Int(schema.header.dataOffset)...])) }
    }

    /// Random corruption of a valid image: parsing either fails with a format error or yields a
    /// schema whose values read within bounds. A trap would end the test run.
    @Test func randomCorruptionNeverTraps() {
        var random = SplitMix64(seed: 0x5EED)
        let original = Self.sample.bytes()
        var parsed = 0
        for _ in 0..<20_000 {
            var bytes = original
            for _ in 0...Int(random.next() % 4) {
                let at = Int(random.next() % UInt64(bytes.count))
                bytes[at] = UInt8(truncatingIfNeeded: random.next())
            }
            if random.next() % 8 == 0 { bytes.removeLast(Int(random.next() % UInt64(bytes.count))) }
            guard let schema = try? KVMStatsSchema.parse(bytes) else { continue }
            parsed += 1
            let dataStart = min(Int(schema.header.dataOffset), bytes.count)
            if let values = try? schema.values(fromData: Array(bytes[dataStart...])) {
                #expect(values.count == schema.descriptors.count)
            }
        }
        #expect(parsed > 0)
    }
}
