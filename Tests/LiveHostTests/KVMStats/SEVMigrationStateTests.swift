import SystemLibc
import CKVMHost
import Testing
@testable import MonitorCore
@testable import LiveHost

/// The SEV live-migration series' state readers. The kernel that has these ioctls (the 2020-21
/// patch series, never merged) is not on this machine: the constructed buffers below stand in
/// for what that kernel would return, laid out as the series' uapi header describes (reference §11).
@Suite struct SEVMigrationStateFormatTests {
    static func list(_ entries: [(UInt64, UInt64)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (s, e) in entries { bytes.append(s); bytes.append(e) }
        return bytes
    }

    @Test func ioctlNumbersMatchTheSeries() {
        #expect(SEVMigrationStateProbe.getSharedPagesList == 0x4018_AEC8)
        #expect(SEVMigrationStateProbe.getPageEncBitmap.map(\.request) == [0x4018_AEC2, 0x4018_AEC5])
        // 0xc6 is SET_PAGE_ENC_BITMAP in v6-v8: never probed.
        #expect(!SEVMigrationStateProbe.getPageEncBitmap.map(\.request).contains(0x4018_AEC6))
    }

    @Test func v10ListDecodesSortedAndCoalesced() throws {
        let bytes = Self.list([(0x7f000, 0x7f010), (0x100, 0x101), (0x7f010, 0x7f020), (0x102, 0x110), (0x105, 0x108)])
        #expect(try SEVMigrationStateFormat.sharedRanges(list: bytes, count: 5) == [
            PageRange(lower: 0x100, upper: 0x101), PageRange(lower: 0x102, upper: 0x110), PageRange(lower: 0x7f000, upper: 0x7f020),
        ])
        // The count, not the buffer size, says how many entries are valid.
        #expect(try SEVMigrationStateFormat.sharedRanges(list: bytes, count: 1) == [PageRange(lower: 0x7f000, upper: 0x7f010)])
        #expect(try SEVMigrationStateFormat.sharedRanges(list: [], count: 0) == [])
    }

    @Test func hostileListsAreErrors() {
        let good = Self.list([(1, 2), (4, 8)])
        #expect(throws: SEVMigrationStateError.truncated(needed: 48, available: 32)) { try SEVMigrationStateFormat.sharedRanges(list: good, count: 3) }
        #expect(throws: SEVMigrationStateError.self) { try SEVMigrationStateFormat.sharedRanges(list: good, count: -1) }
        #expect(throws: SEVMigrationStateError.self) { try SEVMigrationStateFormat.sharedRanges(list: good, count: Int.max) }
        #expect(throws: SEVMigrationStateError.badEntry(index: 0, start: 5, end: 5)) { try SEVMigrationStateFormat.sharedRanges(list: Self.list([(5, 5)]), count: 1) }
        #expect(throws: SEVMigrationStateError.self) { try SEVMigrationStateFormat.sharedRanges(list: Self.list([(9, 3)]), count: 1) }
        #expect(throws: SEVMigrationStateError.self) { try SEVMigrationStateFormat.sharedRanges(list: Self.list([(0, PageRange.maxPage + 1)]), count: 1) }
        #expect(throws: SEVMigrationStateError.self) { try SEVMigrationStateFormat.sharedRanges(list: Self.list([(.max - 1, .max)]), count: 1) }
    }

    /// The bitmap decoder against a per-page reference: random bitmaps (uniform bytes, mixed
    /// bytes, spans not a multiple of 8), anywhere in the address space.
    @Test func bitmapMatchesPerPageReference() throws {
        var random = SplitMix64(seed: 0xB17)
        for _ in 0..<2_000 {
            let pages = random.next() % 300
            var bitmap = [UInt8](repeating: 0, count: Int((pages + 7) / 8) + Int(random.next() % 3))
            for i in bitmap.indices {
                switch random.next() % 4 {
                case 0: bitmap[i] = 0
                case 1: bitmap[i] = 0xFF
                default: bitmap[i] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            let start = random.next() % 2 == 0 ? random.next() % 1_000_000 : PageRange.maxPage - pages
            var reference: [PageRange] = []
            for p in 0..<pages where bitmap[Int(p / 8)] & (1 << UInt8(p % 8)) == 0 {
                if let last = reference.last, last.upper == start + p {
                    reference[reference.count - 1] = PageRange(lower: last.lower, upper: start + p + 1)
                } else {
                    reference.append(PageRange(lower: start + p, upper: start + p + 1))
                }
            }
            #expect(try SEVMigrationStateFormat.sharedRanges(bitmap: bitmap, startGFN: start, pageCount: pages) == reference)
        }
    }

    @Test func hostileBitmapsAreErrors() {
        #expect(throws: SEVMigrationStateError.truncated(needed: 2, available: 1)) {
            try SEVMigrationStateFormat.sharedRanges(bitmap: [0], startGFN: 0, pageCount: 9)
        }
        #expect(throws: SEVMigrationStateError.self) {
            try SEVMigrationStateFormat.sharedRanges(bitmap: [0, 0], startGFN: PageRange.maxPage - 4, pageCount: 9)
        }
        #expect(throws: SEVMigrationStateError.self) {
            try SEVMigrationStateFormat.sharedRanges(bitmap: [], startGFN: .max, pageCount: 0)
        }
    }

    /// The read becomes a marker and conversions the model applies: it then holds exactly the list.
    @Test func eventsRebuildTheSharedSet() throws {
        let ranges = try SEVMigrationStateFormat.sharedRanges(list: Self.list([(0x10, 0x20), (0x7000, 0x7001)]), count: 2)
        let events = SEVMigrationStateFormat.events(ranges, source: "test", time: 5, pid: 42)
        #expect(events.count == 3)
        guard case .marker(5, let text) = events[0] else { Issue.record("no marker first"); return }
        #expect(text.contains("2 shared ranges"))
        var monitor = Monitor(configuration: MonitorConfiguration())
        for e in events { monitor.apply(e) }
        #expect(monitor.snapshot().regions.sharedPages == 17)
        #expect(monitor.snapshot().regions.count == 2)
    }
}

/// The probe against this machine's real kernel, which lacks the series: it must fall back cleanly.
@Suite struct SEVMigrationStateProbeTests {
    /// In the VM's own process (as QEMU would ask): the kernel rejects the unknown ioctls
    /// (ENOTTY/EINVAL) and the probe reports "not available" with each attempt's reason.
    @Test(.enabled(if: kvmAvailable, kvmUnavailableReason))
    func inProcessTheMissingIoctlsFallBack() throws {
        let kvm = try OwnedFileDescriptor.openReadOnlyWritable("/dev/kvm")
        let vmFD = ckvm_ioctl_none(kvm.rawValue, 0xAE01)   // KVM_CREATE_VM
        try #require(vmFD >= 0, "KVM_CREATE_VM failed: errno \(errno)")
        let vm = OwnedFileDescriptor(adopting: vmFD)
        let readout = SEVMigrationStateProbe.read(vm: vm, guestPages: 256)
        guard case .notAvailable(let reason) = readout else { Issue.record("expected not available, got \(readout)"); return }
        #expect(reason.contains("KVM_GET_SHARED_PAGES_LIST"))
        #expect(reason.contains("KVM_GET_PAGE_ENC_BITMAP 0xc2"))
        #expect(reason.contains("KVM_GET_PAGE_ENC_BITMAP 0xc5"))
        #expect(!reason.contains("Input/output error"))
    }

    /// From encmon's process on another process's VM: KVM answers EIO before looking at the
    /// request, so the probe stops there and says why.
    @Test(.enabled(if: kvmAvailable, kvmUnavailableReason))
    func onAnotherProcessTheReasonIsTheAddressSpace() throws {
        let guest = try KVMTestGuest()
        defer { guest.stop() }
        let readout = SEVMigrationStateProbe.read(pid: guest.pid, guestPages: 16)
        guard case .notAvailable(let reason) = readout else { Issue.record("expected not available, got \(readout)"); return }
        #expect(reason.contains("only inside the VM's own process"))
    }

    @Test func aProcessWithoutAVM() {
        #expect(SEVMigrationStateProbe.read(pid: getpid(), guestPages: nil) == .notAvailable(reason: "process \(getpid()) holds no KVM VM"))
    }
}

extension OwnedFileDescriptor {
    static func openReadOnlyWritable(_ path: String) throws -> OwnedFileDescriptor {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError(call: "open \(path)", errno: errno) }
        return OwnedFileDescriptor(adopting: fd)
    }
}
