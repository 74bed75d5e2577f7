/// What the simulated guest does.
public enum SimulatorScenario: String, Sendable, Hashable, CaseIterable {
    /// Firmware and kernel boot: the E820 encrypt calls, then the static shared ranges.
    case boot
    /// Boot, then DMA churn for `steadySeconds`.
    case steady
    /// Boot, a little churn, one pre-copy live migration.
    case migrate
    /// Boot, then a guest that fragments the shared set on purpose (every other page).
    case hostile
    /// Boot, churn, a migration and churn again: each act starts within 20 s at speed 1.
    case tour

    public var summary: String {
        switch self {
        case .boot: "firmware and kernel boot: E820 calls, then the static shared ranges"
        case .steady: "boot, then DMA churn (pages shared and made private again)"
        case .migrate: "boot, churn, one pre-copy live migration"
        case .hostile: "boot, then sharing every other page to fragment the shared set"
        case .tour: "boot, churn, a live migration, churn again: every act within 20 s"
        }
    }
}

/// Why a simulator configuration cannot run, with the value that is wrong.
public enum SimulatorConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    case memoryNotPageMultiple(UInt64)
    case memoryTooSmall(UInt64, minimum: UInt64)
    case memoryTooLarge(UInt64, maximum: UInt64)
    case vcpusOutOfRange(Int)
    case bounceBufferInvalid(UInt64, memBytes: UInt64)
    case rateInvalid(name: String, value: Double)
    case bandwidthInvalid(Double)
    case encryptedPathFractionInvalid(Double)
    case downtimeLimitInvalid(Double)
    case maxPassesInvalid(Int)
    case workingSetInvalid(Int)
    case durationInvalid(name: String, value: Double)
    case hostileStrideInvalid(UInt64)

    public var description: String {
        switch self {
        case .memoryNotPageMultiple(let b):
            "guest memory \(b) bytes is not a multiple of 4096; give a size such as 4G or 512M"
        case .memoryTooSmall(let b, let min):
            "guest memory \(ByteFormat.human(b)) is too small; the simulated layout needs at least \(ByteFormat.human(min))"
        case .memoryTooLarge(let b, let max):
            "guest memory \(ByteFormat.human(b)) is too large for the simulator; use at most \(ByteFormat.human(max))"
        case .vcpusOutOfRange(let n):
            "vCPU count \(n) is out of range; use 1 to 256"
        case .bounceBufferInvalid(let b, let mem):
            "bounce buffer \(ByteFormat.human(b)) must be a multiple of 2 MiB between 2 MiB and a quarter of guest memory (\(ByteFormat.human(mem / 4)))"
        case .rateInvalid(let name, let v):
            "\(name) \(v) must be a finite number >= 0"
        case .bandwidthInvalid(let v):
            "link bandwidth \(v) bytes/s must be finite and > 0; 536870912 is 512 MiB/s"
        case .encryptedPathFractionInvalid(let v):
            "encrypted-path throughput \(v) must be a fraction of link bandwidth in (0, 1]; SEV is about 0.4"
        case .downtimeLimitInvalid(let v):
            "downtime limit \(v) s must be finite and > 0; QEMU's default is 0.3"
        case .maxPassesInvalid(let n):
            "max passes \(n) must be at least 1"
        case .workingSetInvalid(let n):
            "DMA working set of \(n) pages must be between 1 and 65536"
        case .durationInvalid(let name, let v):
            "\(name) \(v) s must be finite and >= 0"
        case .hostileStrideInvalid(let n):
            "hostile stride \(n) pages must be at least 2 (every other page fragments most)"
        }
    }
}

/// Parameters of the simulated guest and of the VMM migrating it. Defaults depend on the scenario
/// only where the scenario needs it (`memBytes` for hostile, `steadySeconds`).
public struct SimulatorConfiguration: Sendable, Hashable {
    public static let mib: UInt64 = 1 << 20
    public static let gib: UInt64 = 1 << 30
    public static let minimumMemBytes: UInt64 = 256 << 20
    public static let maximumMemBytes: UInt64 = 1 << 40

    public var scenario: SimulatorScenario
    /// Seed of the simulator's own RNG: the same seed gives the same events.
    public var seed: UInt64
    /// Guest RAM; 4 GiB (8 GiB for hostile, so that alternating pages exceed the default 1 M region cap).
    public var memBytes: UInt64
    public var vcpus: Int = 4
    /// DMA churn, in conversions per second (a flip is two: to shared and back).
    public var churnConversionsPerSecond: Double = 400
    /// Pages the DMA churn reuses (the page allocator hands out the same hot pages again).
    public var churnWorkingSetPages: Int = 256
    /// Multi-page (512-page, 2 MiB) DMA buffers flipped per second.
    public var largeBufferFlipsPerSecond: Double = 0.5
    /// SWIOTLB bounce buffer (Linux default 64 MiB).
    public var bounceBufferBytes: UInt64 = 64 << 20
    /// Link bandwidth (QEMU `max-bandwidth`) in bytes/s; shared pages travel at this speed.
    public var linkBandwidthBytesPerSecond: Double = 512 * 1_048_576
    /// Throughput of the encrypted path (SEV SEND_UPDATE_DATA through the PSP) as a fraction of link bandwidth.
    public var encryptedPathFraction: Double = 0.4
    /// Guest page writes per second during migration (half of them to a hot set of up to 64 MiB):
    /// 15 000 is about 59 MiB/s, a moderately busy guest.
    public var dirtyPagesPerSecond: Double = 15_000
    /// Stop-and-copy starts once the remainder fits this (QEMU `downtime-limit`, 300 ms).
    public var downtimeLimitSeconds: Double = 0.3
    /// Pre-copy passes before the migration is declared failed.
    public var maxPasses: Int = 30
    /// Seconds of churn: the whole steady scenario; before the migration in migrate and tour;
    /// after the fragmentation in hostile.
    public var steadySeconds: Double
    /// Total length of the tour (it runs on after the migration until then).
    public var tourSeconds: Double = 45
    /// Hostile conversions per second.
    public var hostileConversionsPerSecond: Double = 100_000
    /// The hostile guest shares one page in every `hostileStridePages`.
    public var hostileStridePages: UInt64 = 2
    /// Interval of `.migrationProgress` reports (QMP polling).
    public var progressIntervalSeconds: Double = 0.5

    public init(scenario: SimulatorScenario = .tour, seed: UInt64 = 1) {
        self.scenario = scenario
        self.seed = seed
        memBytes = scenario == .hostile ? 8 * Self.gib : 4 * Self.gib
        switch scenario {
        case .boot: steadySeconds = 0
        case .steady: steadySeconds = 60
        case .migrate, .hostile: steadySeconds = 10
        case .tour:
            // Every act within ~20 s at speed 1: churn from 4 s, the migration from 8 s over a
            // 1 GiB/s link (pass 1 of 4 GiB takes ~10 s), churn again after it.
            steadySeconds = 4
            linkBandwidthBytesPerSecond = 1024 * 1_048_576
            tourSeconds = 45
        }
    }

    /// Throughput of private pages in bytes/s.
    public var encryptedPathBytesPerSecond: Double { linkBandwidthBytesPerSecond * encryptedPathFraction }

    public func validate() throws(SimulatorConfigurationError) {
        if memBytes % GuestPage.size != 0 { throw .memoryNotPageMultiple(memBytes) }
        if memBytes < Self.minimumMemBytes { throw .memoryTooSmall(memBytes, minimum: Self.minimumMemBytes) }
        if memBytes > Self.maximumMemBytes { throw .memoryTooLarge(memBytes, maximum: Self.maximumMemBytes) }
        if !(1...256).contains(vcpus) { throw .vcpusOutOfRange(vcpus) }
        if bounceBufferBytes < 2 * Self.mib || bounceBufferBytes % (2 * Self.mib) != 0 || bounceBufferBytes > memBytes / 4 {
            throw .bounceBufferInvalid(bounceBufferBytes, memBytes: memBytes)
        }
        for (name, v) in [("churn rate (conversions/s)", churnConversionsPerSecond),
                          ("large-buffer flip rate (/s)", largeBufferFlipsPerSecond),
                          ("dirty rate (pages/s)", dirtyPagesPerSecond),
                          ("hostile rate (conversions/s)", hostileConversionsPerSecond)] where !(v.isFinite && v >= 0) {
            throw .rateInvalid(name: name, value: v)
        }
        if !(hostileConversionsPerSecond > 0) { throw .rateInvalid(name: "hostile rate (conversions/s)", value: hostileConversionsPerSecond) }
        if !(linkBandwidthBytesPerSecond.isFinite && linkBandwidthBytesPerSecond > 0) { throw .bandwidthInvalid(linkBandwidthBytesPerSecond) }
        if !(encryptedPathFraction > 0 && encryptedPathFraction <= 1) { throw .encryptedPathFractionInvalid(encryptedPathFraction) }
        if !(downtimeLimitSeconds.isFinite && downtimeLimitSeconds > 0) { throw .downtimeLimitInvalid(downtimeLimitSeconds) }
        if maxPasses < 1 { throw .maxPassesInvalid(maxPasses) }
        if !(1...65_536).contains(churnWorkingSetPages) { throw .workingSetInvalid(churnWorkingSetPages) }
        for (name, v) in [("steady time", steadySeconds), ("tour length", tourSeconds)] where !(v.isFinite && v >= 0) {
            throw .durationInvalid(name: name, value: v)
        }
        if !(progressIntervalSeconds.isFinite && progressIntervalSeconds > 0) {
            throw .durationInvalid(name: "progress interval", value: progressIntervalSeconds)
        }
        if hostileStridePages < 2 { throw .hostileStrideInvalid(hostileStridePages) }
        // Many vCPUs and a big bounce buffer in a small guest leave no room for the DMA zones.
        if !GuestMemoryPlan(self).isConsistent() { throw .memoryTooSmall(memBytes, minimum: memBytes * 2) }
    }
}
