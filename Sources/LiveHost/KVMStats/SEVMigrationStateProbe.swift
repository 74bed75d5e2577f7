import SystemLibc
import MonitorCore

/// Reads, once at attach, the shared-page state of a kernel carrying the SEV live-migration
/// series (reference §11), on a copy of the VM descriptor. Mainline kernels lack these ioctls
/// (ENOTTY/EINVAL), and KVM answers VM ioctls only inside the VM's own process (EIO), so the
/// usual answer is `.notAvailable` with the reason; the caller then shows "tracking since".
public enum SEVMigrationStateProbe {
    /// `_IOW(KVMIO, nr, 24-byte struct)`.
    static func request(_ nr: UInt) -> UInt { 0x4018_AE00 | nr }
    /// v10 `KVM_GET_SHARED_PAGES_LIST`.
    public static let getSharedPagesList = request(0xC8)
    /// `KVM_GET_PAGE_ENC_BITMAP`: 0xc2 (early 2020 revisions), 0xc5 (v6-v8). v9's 0xc6 is never
    /// issued: 0xc6 is SET_PAGE_ENC_BITMAP in v6-v8, and a probe must not change the guest's state.
    public static let getPageEncBitmap: [(request: UInt, revision: String)] = [
        (request(0xC2), "KVM_GET_PAGE_ENC_BITMAP 0xc2 (2020)"), (request(0xC5), "KVM_GET_PAGE_ENC_BITMAP 0xc5 (v6-v8)"),
    ]
    /// Most list entries accepted (16 bytes each: 64 MiB).
    static let maxListEntries: Int32 = 1 << 22

    /// One ioctl tried: the ranges, or why not (with the errno when a call failed).
    enum Attempt { case ranges([PageRange]), failed(String, errno: Int32?) }

    public enum Readout: Sendable, Hashable {
        case sharedRanges([PageRange], source: String)
        case notAvailable(reason: String)
    }

    /// Probes the VM of process `pid`. `guestPages` (RAM size / 4 KiB) bounds the bitmap read;
    /// without it only the v10 list is tried.
    public static func read(pid: Int32, guestPages: UInt64?, procRoot: String = "/proc") -> Readout {
        do {
            let process = try PidFD.open(pid: pid)
            guard let vmFD = try ProcessKVMDescriptors.scan(pid: pid, procRoot: procRoot).vmDescriptors.first else {
                return .notAvailable(reason: "process \(pid) holds no KVM VM")
            }
            return read(vm: try process.duplicate(descriptor: vmFD), guestPages: guestPages)
        } catch {
            return .notAvailable(reason: "\(error)")
        }
    }

    /// Probes one VM descriptor: the v10 list first, then the bitmap revisions.
    public static func read(vm: OwnedFileDescriptor, guestPages: UInt64?) -> Readout {
        var reasons: [String] = []
        switch readSharedPagesList(vm) {
        case .ranges(let ranges): return .sharedRanges(ranges, source: "KVM_GET_SHARED_PAGES_LIST (v10)")
        case .failed(let reason, let errno):
            if errno == EIO {
                return .notAvailable(reason: "KVM answers VM ioctls only inside the VM's own process (\(reason))")
            }
            reasons.append(reason)
        }
        guard let guestPages, guestPages > 0, guestPages <= UInt64(Int32.max) * 8 else {
            return .notAvailable(reason: reasons.joined(separator: "; ") + "; page-encryption bitmap not tried (guest size unknown)")
        }
        for variant in getPageEncBitmap {
            switch readBitmap(vm, request: variant.request, name: variant.revision, pages: guestPages) {
            case .ranges(let ranges): return .sharedRanges(ranges, source: variant.revision)
            case .failed(let reason, _): reasons.append(reason)
            }
        }
        return .notAvailable(reason: reasons.joined(separator: "; "))
    }

    /// `struct kvm_shared_pages_list { int *pnents; void *buffer; __u32 size; }`: ask with an empty
    /// buffer for the count (E2BIG or success), then read that many entries; retried if it grew.
    static func readSharedPagesList(_ vm: OwnedFileDescriptor) -> Attempt {
        var capacity: Int32 = 0
        for _ in 0..<4 {
            var count: Int32 = 0
            var buffer = [UInt8](repeating: 0, count: Int(capacity) * SEVMigrationStateFormat.listEntrySize)
            let outcome: Result<Int32, SystemCallError> = withUnsafeMutablePointer(to: &count) { countPointer in
                buffer.withUnsafeMutableBytes { raw in
                    var argument = [UInt64](repeating: 0, count: 3)
                    argument[0] = UInt64(UInt(bitPattern: countPointer))
                    argument[1] = UInt64(UInt(bitPattern: raw.baseAddress))
                    argument[2] = UInt64(raw.count)
                    return argument.withUnsafeMutableBytes { arg in
                        Result { () throws(SystemCallError) in
                            try KVMIoctl.withPointer(vm, request: getSharedPagesList, name: "KVM_GET_SHARED_PAGES_LIST", argument: arg.baseAddress!)
                        }
                    }
                }
            }
            switch outcome {
            case .success:
                do { return .ranges(try SEVMigrationStateFormat.sharedRanges(list: buffer, count: Int(count))) } catch {
                    return .failed("\(error)", errno: nil)
                }
            case .failure(let e) where e.errno == E2BIG && count > capacity && count <= maxListEntries:
                capacity = count
            case .failure(let e):
                return .failed("\(e)", errno: e.errno)
            }
        }
        return .failed("KVM_GET_SHARED_PAGES_LIST: the list kept growing", errno: nil)
    }

    /// `struct kvm_page_enc_bitmap { __u64 start_gfn; __u64 num_pages; void *enc_bitmap; }`.
    static func readBitmap(_ vm: OwnedFileDescriptor, request: UInt, name: String, pages: UInt64) -> Attempt {
        // Rounded up to whole u64s: the kernel copies an unsigned long bitmap.
        var bitmap = [UInt8](repeating: 0xFF, count: Int((pages + 63) / 64 * 8))
        let outcome: Result<Int32, SystemCallError> = bitmap.withUnsafeMutableBytes { raw in
            var argument: [UInt64] = [0, pages, UInt64(UInt(bitPattern: raw.baseAddress))]
            return argument.withUnsafeMutableBytes { arg in
                Result { () throws(SystemCallError) in
                    try KVMIoctl.withPointer(vm, request: request, name: name, argument: arg.baseAddress!)
                }
            }
        }
        switch outcome {
        case .success:
            do { return .ranges(try SEVMigrationStateFormat.sharedRanges(bitmap: bitmap, startGFN: 0, pageCount: pages)) } catch {
                return .failed("\(error)", errno: nil)
            }
        case .failure(let e): return .failed("\(e)", errno: e.errno)
        }
    }
}
