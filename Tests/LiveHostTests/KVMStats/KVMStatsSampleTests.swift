import Testing
@testable import MonitorCore
@testable import LiveHost

/// Counters for the model: VM-wide counts and sums over vCPUs, compared with a plain reference.
@Suite struct KVMStatsSampleTests {
    static func reading(_ name: String, _ values: [UInt64], flags: UInt32 = 0) -> KVMStatsSample.Reading {
        .init(descriptor: KVMStatDescriptor(name: name, flags: KVMStatFlags(raw: flags), exponent: 0,
                                            valueCount: values.count, dataOffset: 0, bucketSize: 0), values: values)
    }

    @Test func sumsVCPUsAndKeepsVMCounts() {
        let sample = KVMStatsSample(time: 12.5, vm: [
            Self.reading("remote_tlb_flush", [9]),
            Self.reading("pages_4k", [100], flags: 0x001),
            Self.reading("exits", [1000]),        // a VM-wide name a vCPU also uses
        ], vcpus: [
            .init(index: 0, readings: [Self.reading("exits", [10]), Self.reading("hypercalls", [3]),
                                       Self.reading("halt_wait_ns", [77], flags: 0x020)]),
            .init(index: 1, readings: [Self.reading("exits", [32]), Self.reading("hypercalls", [4]),
                                       Self.reading("halt_poll_hist", [1, 2], flags: 0x004)]),
        ])
        #expect(sample.counterEvents() == [
            .counter(time: 12.5, name: "exits", value: 42),
            .counter(time: 12.5, name: "hypercalls", value: 7),
            .counter(time: 12.5, name: "remote_tlb_flush", value: 9),
            .counter(time: 12.5, name: "vm.exits", value: 1000),
        ])
    }

    /// Random samples against a dictionary reference.
    @Test func matchesReferenceOnRandomSamples() {
        var random = SplitMix64(seed: 77)
        let names = ["exits", "io_exits", "mmio_exits", "halt_exits", "pf_taken", "hypercalls"]
        for _ in 0..<500 {
            var reference: [String: UInt64] = [:]
            var vcpus: [KVMStatsSample.VCPU] = []
            for index in 0..<Int(random.next() % 5) {
                var readings: [KVMStatsSample.Reading] = []
                for name in names where random.next() % 3 != 0 {
                    let v = random.next() % 1_000_000
                    let counted = random.next() % 4 != 0
                    readings.append(Self.reading(name, [v], flags: counted ? 0 : 0x001))
                    if counted { reference[name, default: 0] += v }
                }
                vcpus.append(.init(index: index, readings: readings))
            }
            let vmValue = random.next() % 1000
            reference["remote_tlb_flush"] = vmValue
            let sample = KVMStatsSample(time: 1, vm: [Self.reading("remote_tlb_flush", [vmValue])], vcpus: vcpus)
            let got = sample.counterEvents().compactMap { e -> (String, UInt64)? in
                if case .counter(_, let n, let v) = e { return (n, v) } else { return nil }
            }
            #expect(got.map(\.0) == reference.keys.sorted())
            #expect(got.map(\.1) == reference.keys.sorted().map { reference[$0]! })
        }
    }
}
