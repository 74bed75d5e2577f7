/// A range the guest shares at boot and keeps shared.
public struct StaticSharedRange: Sendable, Hashable {
    public enum Owner: String, Sendable, Hashable { case firmware, kernel, driver }
    public var name: String
    public var pages: PageRange
    public var owner: Owner
    /// Pages at the start that stay shared (the rest is made private again; `.bss..decrypted`).
    public var keptPages: UInt64
}

/// Where things live in the simulated guest: a QEMU q35 layout (RAM below 2 GiB when the guest
/// has 2.75 GiB or more, else all of it low; the PCI hole up to 4 GiB; the rest above 4 GiB), and
/// the static shared ranges, churn pages and DMA buffer slots placed in it without touching.
public struct GuestMemoryPlan: Sendable, Hashable {
    static let pagesPerMiB: UInt64 = 256
    static let pagesPer2MiB: UInt64 = 512
    static let fourGiBPage: UInt64 = 1 << 20
    /// q35 (hw/i386/pc_q35.c): lowmem is 2 GiB once RAM reaches 0xb0000000.
    static let q35LowmemThreshold: UInt64 = 0xB000_0000 >> 12
    static let q35Lowmem: UInt64 = 0x8000_0000 >> 12

    public let lowPages: UInt64
    public let highPages: UInt64
    public var ramPages: UInt64 { lowPages + highPages }
    public let layout: [GuestLayoutRange]
    /// First page to one past the last page of the layout (what a bitmap must cover).
    public let spanPages: UInt64
    public let staticShared: [StaticSharedRange]
    /// RAM entries of the E820 map the kernel marks encrypted at boot (firmware's area excluded).
    public let e820RAM: [PageRange]
    /// Zone for the DMA churn working set (single pages).
    public let churnZone: PageRange
    /// 2 MiB-aligned, 512-page slots for multi-page DMA buffers.
    public let largeBufferSlots: [UInt64]

    public init(_ c: SimulatorConfiguration) {
        let mem = c.memBytes >> 12
        lowPages = mem >= Self.q35LowmemThreshold ? Self.q35Lowmem : mem
        highPages = mem - lowPages
        let fourG = Self.fourGiBPage
        var l: [GuestLayoutRange] = [GuestLayoutRange(pages: PageRange(lower: 0, upper: lowPages), kind: .ram, name: "RAM below 4G")]
        func add(_ lo: UInt64, _ hi: UInt64, _ kind: GuestLayoutRange.Kind, _ name: String) {
            if lo < hi { l.append(GuestLayoutRange(pages: PageRange(lower: lo, upper: hi), kind: kind, name: name)) }
        }
        let ecam: UInt64 = 0xB000_0000 >> 12, pciLow: UInt64 = 0xC000_0000 >> 12
        let ioapic: UInt64 = 0xFEC0_0000 >> 12, flash: UInt64 = 0xFFC0_0000 >> 12
        add(lowPages, ecam, .hole, "unused (below PCIe ECAM)")
        add(Swift.max(lowPages, ecam), pciLow, .mmio, "PCIe ECAM (MMCONFIG)")
        add(pciLow, ioapic, .mmio, "PCI MMIO hole")
        add(ioapic, flash, .mmio, "IOAPIC, HPET, LAPIC")
        add(flash, fourG, .firmware, "OVMF flash")
        add(fourG, fourG + highPages, .ram, "RAM above 4G")
        layout = l
        spanPages = l.last!.pages.upper

        // Firmware's reserved area: the top 16 MiB of low RAM (ACPI, EFI runtime, OVMF data).
        let lowTop = lowPages / Self.pagesPer2MiB * Self.pagesPer2MiB
        let fw = lowTop - 16 * Self.pagesPerMiB
        let bounce = c.bounceBufferBytes >> 12
        let swiotlb = PageRange(first: fw - 2 * Self.pagesPerMiB - bounce, count: bounce)
        let dma32Pool = PageRange(first: swiotlb.lower - 4 * Self.pagesPerMiB, count: 32)
        // Kernel loaded at CONFIG_PHYSICAL_START (16 MiB); `.bss..decrypted` is PMD-aligned and
        // PMD-sized (vmlinux.lds.S), its unused tail made private again (mem_encrypt_free_decrypted_mem).
        let bssDecrypted = PageRange(first: 62 * Self.pagesPerMiB, count: Self.pagesPer2MiB)

        // General zone: RAM above 4G, else low RAM between the kernel and the DMA32 pool.
        let general = highPages > 0
            ? PageRange(first: fourG, count: highPages)
            : PageRange(lower: 66 * Self.pagesPerMiB, upper: dma32Pool.lower - Self.pagesPer2MiB)
        let g = general.count
        func at(_ num: UInt64, _ den: UInt64) -> UInt64 { general.lower + g * num / den }

        var s: [StaticSharedRange] = [
            StaticSharedRange(name: "ACPI tables (firmware)", pages: PageRange(first: fw + 2 * Self.pagesPerMiB, count: 32), owner: .firmware, keptPages: 32),
            StaticSharedRange(name: "EFI runtime services data", pages: PageRange(first: fw + 4 * Self.pagesPerMiB, count: 64), owner: .firmware, keptPages: 64),
            StaticSharedRange(name: "OVMF SEV-ES work area", pages: PageRange(first: fw + 8 * Self.pagesPerMiB, count: 8), owner: .firmware, keptPages: 8),
            StaticSharedRange(name: "kernel .bss..decrypted", pages: bssDecrypted, owner: .kernel, keptPages: 4),
        ]
        for i in 0..<UInt64(c.vcpus) {
            s.append(StaticSharedRange(name: "GHCB vCPU \(i)", pages: PageRange(first: general.upper - 16 * (i + 1), count: 1), owner: .kernel, keptPages: 1))
        }
        s += [
            StaticSharedRange(name: "SWIOTLB bounce buffer", pages: swiotlb, owner: .kernel, keptPages: bounce),
            StaticSharedRange(name: "atomic DMA pool (ZONE_DMA)", pages: PageRange(first: 12 * Self.pagesPerMiB, count: 32), owner: .kernel, keptPages: 32),
            StaticSharedRange(name: "atomic DMA pool (ZONE_DMA32)", pages: dma32Pool, owner: .kernel, keptPages: 32),
            StaticSharedRange(name: "atomic DMA pool (kernel)", pages: PageRange(first: at(7, 16), count: 32), owner: .kernel, keptPages: 32),
        ]
        let rings: [(String, UInt64)] = [("virtio-net rx virtqueue", 3), ("virtio-net tx virtqueue", 3), ("virtio-net ctrl virtqueue", 1),
                                         ("virtio-blk request virtqueue", 3), ("virtio-console virtqueues", 2), ("virtio-rng virtqueue", 1)]
        for (i, (name, n)) in rings.enumerated() {
            s.append(StaticSharedRange(name: name, pages: PageRange(first: at(UInt64(i) + 1, 17) + 5, count: n), owner: .driver, keptPages: n))
        }
        staticShared = s

        e820RAM = [PageRange(lower: 0, upper: 0x9F), PageRange(lower: Self.pagesPerMiB, upper: fw)]
            + (highPages > 0 ? [PageRange(first: fourG, count: highPages)] : [])
        churnZone = PageRange(lower: at(1, 2), upper: at(5, 8))
        // Eight 2 MiB slots spread between the churn zone and the GHCBs, gaps between them.
        let slotBase = (at(5, 8) + Self.pagesPer2MiB) / Self.pagesPer2MiB * Self.pagesPer2MiB
        let slotEnd = general.upper - 16 * (UInt64(c.vcpus) + 1)
        let available = slotEnd > slotBase ? slotEnd - slotBase : 0
        let slotStride = Swift.max(Self.pagesPer2MiB, available / 8 / Self.pagesPer2MiB * Self.pagesPer2MiB)
        largeBufferSlots = (0..<UInt64(8)).map { slotBase + $0 * slotStride }
    }

    /// The `index`-th RAM page (0 ..< ramPages) as a guest page number.
    @inline(__always)
    public func page(ramIndex i: UInt64) -> UInt64 { i < lowPages ? i : Self.fourGiBPage + (i - lowPages) }

    /// True when the static ranges, churn zone and slots are disjoint, not adjacent, and in RAM.
    func isConsistent() -> Bool {
        var all = staticShared.map(\.pages) + [churnZone] + largeBufferSlots.map { PageRange(first: $0, count: Self.pagesPer2MiB) }
        all.sort { $0.lower < $1.lower }
        for (a, b) in zip(all, all.dropFirst()) where a.upper >= b.lower { return false }
        let ram = layout.filter { $0.kind == .ram }.map(\.pages)
        return all.allSatisfy { r in ram.contains { $0.lower <= r.lower && r.upper <= $0.upper } }
    }
}

extension GuestMemoryPlan {
    /// Splits `range` into the calls a Linux guest makes: one per page-table leaf of the direct
    /// map (1 GiB, 2 MiB or 4 KiB, whichever is aligned and fits), as `enc_dec_hypercall` does.
    static func leafCalls(_ range: PageRange) -> [PageRange] {
        var out: [PageRange] = []
        var p = range.lower
        while p < range.upper {
            var n: UInt64 = 1
            for leaf: UInt64 in [262_144, 512] where p % leaf == 0 && p + leaf <= range.upper { n = leaf; break }
            out.append(PageRange(first: p, count: n))
            p += n
        }
        return out
    }
}
