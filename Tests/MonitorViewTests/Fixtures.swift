import MonitorCore
@testable import MonitorView

/// Small fixed monitors for the golden tests: a 4 GiB guest with a few shared buffers.
enum Fixtures {
    static let gib: UInt64 = 1 << 18  // pages per GiB
    static let mib: UInt64 = 1 << 8   // pages per MiB

    static func conversion(_ t: Double, _ first: UInt64, _ count: UInt64, _ dir: ConversionDirection = .toShared) -> MonitorEvent {
        .conversion(Conversion(time: t, pages: PageRange(first: first, count: count), direction: dir, path: .simulator))
    }

    /// 4 GiB of RAM in two pieces around a 1 GiB MMIO hole below 4 GiB... kept simple: RAM
    /// 0-3 GiB, hole 3-4 GiB, RAM 4-5 GiB.
    static var layout: GuestLayout {
        GuestLayout(time: 0, ranges: [
            GuestLayoutRange(pages: PageRange(lower: 0, upper: 3 * gib), kind: .ram, name: "low RAM"),
            GuestLayoutRange(pages: PageRange(lower: 3 * gib, upper: 4 * gib), kind: .mmio, name: "PCI hole"),
            GuestLayoutRange(pages: PageRange(lower: 4 * gib, upper: 5 * gib), kind: .ram, name: "high RAM"),
        ])
    }

    /// A booted guest: swiotlb bounce buffer (64 MiB), a few DMA buffers, churn on one of them.
    static func bootedMonitor(layout withLayout: Bool = true) -> Monitor {
        var m = Monitor()
        if withLayout { m.apply(.layout(layout)) } else { m.apply(.marker(time: 0, text: "boot")) }
        m.apply(.marker(time: 0, text: "boot"))
        m.apply(conversion(0.5, 1 * gib, 64 * mib))                // swiotlb
        m.apply(conversion(1.0, 2 * gib, 16))                      // virtio rings
        m.apply(conversion(1.5, 2 * gib + 4 * mib, 1 * mib))
        m.apply(conversion(2.0, 4 * gib + 100, 4))
        for k in 0..<6 {                                           // a DMA buffer flipping
            let t = 3.0 + Double(k)
            m.apply(conversion(t, 2 * gib + 8 * mib, 8))
            m.apply(conversion(t + 0.25, 2 * gib + 8 * mib, 8, .toPrivate))
        }
        m.apply(conversion(9.0, 1 * gib + 16 * mib, 1 * mib, .toPrivate))  // a hole punched in swiotlb
        m.apply(.counter(time: 8, name: "hypercalls", value: 100))
        m.apply(.counter(time: 9, name: "hypercalls", value: 140))
        m.apply(.marker(time: 9, text: "steady"))
        return m
    }

    static func migratingMonitor() -> Monitor {
        var m = bootedMonitor()
        m.apply(.migrationProgress(MigrationProgress(time: 9.5, status: .precopy, pass: 1, ramTransferredBytes: 1 << 30,
                                                     ramRemainingBytes: 3 << 30, ramTotalBytes: 4 << 30,
                                                     dirtyPagesPerSecond: 12_000, bandwidthBytesPerSecond: 1_250_000_000,
                                                     downtimeSeconds: 0.3)))
        m.apply(.migrationPass(MigrationPassRecord(pass: 1, startTime: 9.5, endTime: 10, pagesSent: 1_048_576, sharedPagesSent: 16_644,
                                                   pagesDirtied: 5_000, pagesResentForEncryption: 24, pagesChangedState: 24,
                                                   resyncBitmapBytes: 163_840, resyncRangeListBytes: 80)))
        return m
    }

    static var replay: SourceStatus {
        SourceStatus(kind: .replay, name: "boot.trace", position: "line 120 of 400 (30%)", lines: 120)
    }
    static var demo: SourceStatus { SourceStatus(kind: .demo, name: "boot", position: "phase 2") }

    static func state(_ change: (inout ViewState) -> Void = { _ in }) -> ViewState {
        var s = ViewState()
        s.speed = 1
        change(&s)
        return s
    }
}
