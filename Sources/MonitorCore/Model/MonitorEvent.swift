/// Event time in seconds. It comes from the source (trace timestamp, simulator clock, wall clock
/// for live sources) and drives every rate, age and window: a replay at 10x shows the rates of the
/// original run.
public typealias EventTime = Double

public enum ConversionDirection: UInt8, Sendable, Hashable, Codable {
    case toShared
    case toPrivate
}

/// The interface a conversion was seen on.
public enum ConversionPath: UInt8, Sendable, Hashable, CaseIterable, Codable {
    /// `kvm:kvm_hypercall` with nr 12 (KVM_HC_MAP_GPA_RANGE).
    case hypercall
    /// SEV-SNP page-state change through the GHCB MSR protocol (request 0x014).
    case pageStateChange
    /// QEMU trace events `kvm_hc_map_gpa_range` / `kvm_convert_memory`.
    case qemu
    /// Kernel log of the 2020-21 SEV live-migration patches (`page_enc_status_hc`).
    case kernelLog
    /// encmon's simulator.
    case simulator
    /// encmon's own recording.
    case recording

    public var name: String {
        switch self {
        case .hypercall: "hypercall"
        case .pageStateChange: "psc"
        case .qemu: "qemu"
        case .kernelLog: "kernel-log"
        case .simulator: "simulator"
        case .recording: "recording"
        }
    }
}

/// One guest request to convert `pages` to shared or to private.
public struct Conversion: Sendable, Hashable {
    public var time: EventTime
    public var pages: PageRange
    public var direction: ConversionDirection
    /// vCPU index, or -1 when the source does not say.
    public var vcpu: Int32
    /// Host thread id, or -1 when the source does not say.
    public var pid: Int32
    public var path: ConversionPath
    /// What KVM let through although the ABI forbids it (applied all the same, counted apart).
    public var anomalies: ConversionAnomalies

    public init(time: EventTime, pages: PageRange, direction: ConversionDirection,
                vcpu: Int32 = -1, pid: Int32 = -1, path: ConversionPath, anomalies: ConversionAnomalies = []) {
        self.time = time; self.pages = pages; self.direction = direction
        self.vcpu = vcpu; self.pid = pid; self.path = path; self.anomalies = anomalies
    }
}

/// A MAP_GPA_RANGE call that KVM forwards to the VMM although it breaks the ABI: the host applies
/// it, so encmon does too, and counts it.
public struct ConversionAnomalies: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// a2 bits 63:5 set (reserved, must be zero); KVM passes a2 on unchecked, QEMU reads bit 4 only.
    public static let reservedAttributeBits = ConversionAnomalies(rawValue: 1 << 0)
    /// gfn + npages passes 2^52 pages (the 64-bit address space) without wrapping u64: KVM accepts
    /// it; encmon applies the part inside the address space.
    public static let beyondAddressSpace = ConversionAnomalies(rawValue: 1 << 1)

    /// Stable names for JSON, the summary and recordings.
    public static let names: [(ConversionAnomalies, String)] = [
        (.reservedAttributeBits, "reserved-attribute-bits"), (.beyondAddressSpace, "beyond-address-space"),
    ]
}

/// Why KVM refuses a KVM_HC_MAP_GPA_RANGE hypercall (arch/x86/kvm/x86.c: -KVM_EINVAL).
public enum RejectionReason: String, Sendable, Hashable, Codable, CodingKeyRepresentable {
    case unalignedAddress = "unaligned-gpa"
    case zeroPages = "zero-pages"
    case wrapsAround = "range-wraps"
    /// Never produced: KVM does not check the attributes (kept to read recordings of encmon < 0.2).
    case badAttributes = "bad-attributes"
}

/// A MAP_GPA_RANGE hypercall that the tracepoint saw but the kernel rejects: it changes nothing.
public struct RejectedConversion: Sendable, Hashable {
    public var time: EventTime
    public var gpa: UInt64
    public var pageCount: UInt64
    public var attributes: UInt64
    public var reason: RejectionReason
    public var pid: Int32

    public init(time: EventTime, gpa: UInt64, pageCount: UInt64, attributes: UInt64, reason: RejectionReason, pid: Int32 = -1) {
        self.time = time; self.gpa = gpa; self.pageCount = pageCount
        self.attributes = attributes; self.reason = reason; self.pid = pid
    }
}

/// KVM_HC_MAP_GPA_RANGE arguments as the guest passed them (include/uapi/linux/kvm_para.h).
public struct MapGPARangeRequest: Sendable, Hashable {
    public static let hypercallNumber: UInt64 = 12
    /// `KVM_MAP_GPA_RANGE_ENCRYPTED`: bit 4 of a2 set means "to private".
    public static let encryptedBit: UInt64 = 1 << 4

    public var gpa: UInt64
    public var pageCount: UInt64
    public var attributes: UInt64

    public init(gpa: UInt64, pageCount: UInt64, attributes: UInt64) {
        self.gpa = gpa; self.pageCount = pageCount; self.attributes = attributes
    }

    /// The event KVM's validation turns this request into. The tracepoint fires before validation;
    /// `____kvm_emulate_hypercall` (arch/x86/kvm/x86.c; `__kvm_emulate_hypercall` before 6.14) returns
    /// -KVM_EINVAL for exactly three things: `!PAGE_ALIGNED(gpa)`, `!npages`, and
    /// `gpa_to_gfn(gpa) + npages <= gpa_to_gfn(gpa)` (u64 wrap). Everything else goes to the VMM,
    /// which converts on bit 4 alone (QEMU `kvm_handle_hc_map_gpa_range`), so it is applied here;
    /// reserved attribute bits and ranges past the 64-bit space are flagged as anomalies.
    public func event(time: EventTime, vcpu: Int32 = -1, pid: Int32 = -1, path: ConversionPath) -> MonitorEvent {
        func reject(_ r: RejectionReason) -> MonitorEvent {
            .rejected(RejectedConversion(time: time, gpa: gpa, pageCount: pageCount, attributes: attributes, reason: r, pid: pid))
        }
        if gpa & (GuestPage.size - 1) != 0 { return reject(.unalignedAddress) }
        if pageCount == 0 { return reject(.zeroPages) }
        let first = gpa >> GuestPage.shift
        if pageCount > UInt64.max - first { return reject(.wrapsAround) }
        var anomalies: ConversionAnomalies = []
        if attributes & Self.reservedAttributeMask != 0 { anomalies.insert(.reservedAttributeBits) }
        if first + pageCount > PageRange.maxPage { anomalies.insert(.beyondAddressSpace) }
        let dir: ConversionDirection = attributes & Self.encryptedBit != 0 ? .toPrivate : .toShared
        return .conversion(Conversion(time: time, pages: PageRange(first: first, count: pageCount),
                                      direction: dir, vcpu: vcpu, pid: pid, path: path, anomalies: anomalies))
    }

    /// a2 bits 63:5: reserved (bits 3:0 page-size hint, bit 4 encrypted).
    public static let reservedAttributeMask: UInt64 = ~UInt64(0x1f)
}

/// Everything a source can tell the model. Sources produce these; `Monitor.apply` consumes them.
public enum MonitorEvent: Sendable, Hashable {
    case conversion(Conversion)
    case rejected(RejectedConversion)
    /// A hypercall with another number: counted, not applied.
    case otherHypercall(time: EventTime, number: UInt64)
    /// A cumulative kernel counter (KVM binary stats: `hypercalls`, `exits`, ...).
    case counter(time: EventTime, name: String, value: UInt64)
    /// The guest-physical layout, where the source knows it (RAM ranges and holes).
    case layout(GuestLayout)
    /// Migration progress as the VMM reports it.
    case migrationProgress(MigrationProgress)
    /// One finished pre-copy pass.
    case migrationPass(MigrationPassRecord)
    /// A free-text marker (scenario phase, note in a recording).
    case marker(time: EventTime, text: String)
    /// The source lost events (ring buffer overrun, dropped records); `count` nil when the source
    /// says events were lost without saying how many (`CPU:N [LOST EVENTS]`).
    case lostEvents(time: EventTime, count: UInt64?)

    public var time: EventTime {
        switch self {
        case .conversion(let c): c.time
        case .rejected(let r): r.time
        case .otherHypercall(let t, _), .counter(let t, _, _), .marker(let t, _), .lostEvents(let t, _): t
        case .layout(let l): l.time
        case .migrationProgress(let m): m.time
        case .migrationPass(let p): p.endTime
        }
    }
}

/// One range of the guest-physical layout.
public struct GuestLayoutRange: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable { case ram, hole, mmio, firmware }
    public var pages: PageRange
    public var kind: Kind
    public var name: String
    public init(pages: PageRange, kind: Kind, name: String) { self.pages = pages; self.kind = kind; self.name = name }
}

public struct GuestLayout: Sendable, Hashable, Codable {
    public var time: EventTime
    /// Ranges in address order, not overlapping. Pages outside every range are unknown.
    public var ranges: [GuestLayoutRange]
    public init(time: EventTime, ranges: [GuestLayoutRange]) { self.time = time; self.ranges = ranges }
    /// From the lowest range start to the highest range end (any order of `ranges`).
    public var span: PageRange? {
        guard let lower = ranges.map(\.pages.lower).min(), let upper = ranges.map(\.pages.upper).max() else { return nil }
        return PageRange(lower: lower, upper: upper)
    }
    public var ramPages: UInt64 { ranges.filter { $0.kind == .ram }.reduce(0) { $0.addingSaturating($1.pages.count) } }

    /// The ranges in address order without overlaps (a range overlapping an earlier one is left
    /// out): what the model keeps, whatever order a source sent.
    public func normalized() -> GuestLayout {
        var kept: [GuestLayoutRange] = []
        for r in ranges.sorted(by: { $0.pages.lower < $1.pages.lower }) where !r.pages.isEmpty {
            if let last = kept.last, last.pages.upper > r.pages.lower { continue }
            kept.append(r)
        }
        return GuestLayout(time: time, ranges: kept)
    }
}

/// QEMU's MigrationStatus (qapi/migration.json) plus the simulator's `pre-copy` / `stop-and-copy`.
/// Raw values are QEMU's names; recordings store them.
public enum MigrationStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case none, setup, active, precopy = "pre-copy", stopAndCopy = "stop-and-copy", completed, failed, cancelled
    case cancelling
    case postcopyActive = "postcopy-active", postcopyPaused = "postcopy-paused"
    case postcopyRecoverSetup = "postcopy-recover-setup", postcopyRecover = "postcopy-recover"
    case colo, preSwitchover = "pre-switchover", device, waitUnplug = "wait-unplug"

    /// Nothing more happens to this migration; the next non-final status starts a new one.
    public var isFinal: Bool { self == .completed || self == .failed || self == .cancelled }
    /// No migration has run, or one is over.
    public var isIdle: Bool { self == .none || isFinal }
}

/// Migration state at one moment (QMP `query-migrate`, or the simulator).
public struct MigrationProgress: Sendable, Hashable, Codable {
    public var time: EventTime
    public var status: MigrationStatus
    /// Pre-copy pass number (QMP `dirty-sync-count`); 0 before the first pass.
    public var pass: Int
    public var ramTransferredBytes: UInt64
    public var ramRemainingBytes: UInt64
    public var ramTotalBytes: UInt64
    /// Pages dirtied per second.
    public var dirtyPagesPerSecond: Double
    /// Link bandwidth in bytes per second.
    public var bandwidthBytesPerSecond: Double
    /// Expected downtime in seconds (QMP `expected-downtime`), or the real downtime once completed.
    public var downtimeSeconds: Double?
    /// Why the migration failed or does not converge, in words.
    public var note: String?
    /// Seconds the migration spent in setup (QMP `setup-time`), where the source reports it.
    public var setupSeconds: Double?

    public init(time: EventTime, status: MigrationStatus, pass: Int, ramTransferredBytes: UInt64,
                ramRemainingBytes: UInt64, ramTotalBytes: UInt64, dirtyPagesPerSecond: Double,
                bandwidthBytesPerSecond: Double, downtimeSeconds: Double? = nil, note: String? = nil,
                setupSeconds: Double? = nil) {
        self.time = time; self.status = status; self.pass = pass
        self.ramTransferredBytes = ramTransferredBytes; self.ramRemainingBytes = ramRemainingBytes
        self.ramTotalBytes = ramTotalBytes; self.dirtyPagesPerSecond = dirtyPagesPerSecond
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond; self.downtimeSeconds = downtimeSeconds
        self.note = note; self.setupSeconds = setupSeconds
    }
}

/// Figures of one finished pre-copy pass (or the final stop-and-copy, `isStopAndCopy`).
public struct MigrationPassRecord: Sendable, Hashable, Codable {
    public var pass: Int
    public var isStopAndCopy: Bool
    public var startTime: EventTime
    public var endTime: EventTime
    /// Pages sent in this pass in all (dirty pages plus re-sent pages).
    public var pagesSent: UInt64
    /// Of those, sent as plain data because they are shared.
    public var sharedPagesSent: UInt64
    /// Pages the guest dirtied while this pass ran (sent by the next pass).
    public var pagesDirtied: UInt64
    /// Pages whose encryption state changed since the previous resync and were sent again.
    public var pagesResentForEncryption: UInt64
    /// Pages whose state differed between this resync and the previous one.
    public var pagesChangedState: UInt64
    /// Bytes the resync costs if the shared set travels as a bitmap (span / 8).
    public var resyncBitmapBytes: UInt64
    /// Bytes the resync costs as a range list (regions x entry size).
    public var resyncRangeListBytes: UInt64

    public init(pass: Int, isStopAndCopy: Bool = false, startTime: EventTime, endTime: EventTime,
                pagesSent: UInt64, sharedPagesSent: UInt64, pagesDirtied: UInt64,
                pagesResentForEncryption: UInt64, pagesChangedState: UInt64,
                resyncBitmapBytes: UInt64, resyncRangeListBytes: UInt64) {
        self.pass = pass; self.isStopAndCopy = isStopAndCopy; self.startTime = startTime; self.endTime = endTime
        self.pagesSent = pagesSent; self.sharedPagesSent = sharedPagesSent; self.pagesDirtied = pagesDirtied
        self.pagesResentForEncryption = pagesResentForEncryption; self.pagesChangedState = pagesChangedState
        self.resyncBitmapBytes = resyncBitmapBytes; self.resyncRangeListBytes = resyncRangeListBytes
    }
}

extension MonitorEvent {
    /// The same event with every time in it passed through `convert` (moving a source's clock onto
    /// the model's). A pass keeps its duration; nil when `convert` refuses a time.
    public func retimed(_ convert: (EventTime) -> EventTime?) -> MonitorEvent? {
        guard let t = convert(time) else { return nil }
        var e = self
        switch e {
        case .conversion(var c): c.time = t; e = .conversion(c)
        case .rejected(var r): r.time = t; e = .rejected(r)
        case .otherHypercall(_, let n): e = .otherHypercall(time: t, number: n)
        case .counter(_, let name, let v): e = .counter(time: t, name: name, value: v)
        case .layout(var l): l.time = t; e = .layout(l)
        case .migrationProgress(var p): p.time = t; e = .migrationProgress(p)
        case .migrationPass(var p):
            let duration = p.endTime - p.startTime
            p.endTime = t
            p.startTime = duration.isFinite ? t - duration : t
            e = .migrationPass(p)
        case .marker(_, let text): e = .marker(time: t, text: text)
        case .lostEvents(_, let n): e = .lostEvents(time: t, count: n)
        }
        return e
    }
}
