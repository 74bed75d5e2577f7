import MonitorCore

/// The statistics of one VM at one moment: VM-wide values and each vCPU's.
public struct KVMStatsSample: Sendable, Hashable {
    public struct Reading: Sendable, Hashable {
        public var descriptor: KVMStatDescriptor
        /// One value, or a histogram's buckets.
        public var values: [UInt64]
        public init(descriptor: KVMStatDescriptor, values: [UInt64]) { self.descriptor = descriptor; self.values = values }
    }
    public struct VCPU: Sendable, Hashable {
        public var index: Int
        public var readings: [Reading]
        public init(index: Int, readings: [Reading]) { self.index = index; self.readings = readings }
    }

    /// CLOCK_MONOTONIC seconds.
    public var time: Double
    public var vm: [Reading]
    public var vcpus: [VCPU]

    public init(time: Double, vm: [Reading], vcpus: [VCPU]) { self.time = time; self.vm = vm; self.vcpus = vcpus }

    static func readings(_ schema: KVMStatsSchema, _ values: [[UInt64]]) -> [Reading] {
        zip(schema.descriptors, values).map { Reading(descriptor: $0, values: $1) }
    }

    /// Event counts (cumulative, no unit, one value) as model counters: each VM-wide count under
    /// its descriptor name, each vCPU count summed over vCPUs under its name. A VM-wide count
    /// whose name a vCPU count also uses is named `vm.<name>`. Sorted by name; sums wrap rather
    /// than trap (a u64 event count does not reach 2^64 in practice).
    public func counterEvents() -> [MonitorEvent] {
        var vcpuSums: [String: UInt64] = [:]
        for vcpu in vcpus {
            for r in vcpu.readings where r.descriptor.isEventCount {
                vcpuSums[r.descriptor.name, default: 0] &+= r.values[0]
            }
        }
        var counters = vcpuSums
        for r in vm where r.descriptor.isEventCount {
            let name = vcpuSums[r.descriptor.name] == nil ? r.descriptor.name : "vm." + r.descriptor.name
            counters[name, default: 0] &+= r.values[0]
        }
        return counters.sorted { $0.key < $1.key }.map { .counter(time: time, name: $0.key, value: $0.value) }
    }
}
