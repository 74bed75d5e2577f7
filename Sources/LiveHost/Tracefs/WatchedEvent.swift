import MonitorCore

/// A trace event encmon turns into model events, and how.
public struct WatchedEvent: Sendable, Hashable, CustomStringConvertible {
    public enum Role: Sendable, Hashable {
        /// Fields `nr`, `a0`, `a1`, `a2` (u64) as `kvm:kvm_hypercall` (arch/x86/kvm/trace.h); nr 12
        /// is KVM_HC_MAP_GPA_RANGE.
        case hypercall
        /// Fields `vcpu_id`, `ghcb_gpa` as `kvm:kvm_vmgexit_msr_protocol_enter`; request 0x014 is an
        /// SNP page-state change of one page (arch/x86/include/asm/sev-common.h).
        case pageStateChangeMSR
    }

    public var system: String
    public var name: String
    public var role: Role

    public init(system: String, name: String, role: Role) {
        self.system = system; self.name = name; self.role = role
    }

    public static let kvmHypercall = WatchedEvent(system: "kvm", name: "kvm_hypercall", role: .hypercall)
    public static let snpPageStateChange = WatchedEvent(system: "kvm", name: "kvm_vmgexit_msr_protocol_enter",
                                                        role: .pageStateChangeMSR)

    /// `SYSTEM:NAME` (also `SYSTEM/NAME`, as tracefs paths spell it): another event with the
    /// hypercall's field names, such as the tests' uprobe.
    public init?(hypercallLike argument: String) {
        let parts = argument.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "/" })
        guard parts.count == 2, let s = parts.first, let n = parts.last, Self.isName(s), Self.isName(n) else { return nil }
        self.init(system: String(s), name: String(n), role: .hypercall)
    }

    /// The kernel-side filter: only MAP_GPA_RANGE hypercalls reach the ring buffer.
    public var filter: String? {
        switch role {
        case .hypercall: "nr == \(MapGPARangeRequest.hypercallNumber)"
        case .pageStateChangeMSR: nil
        }
    }

    /// Field names decoded, in the order `TraceEventDecoder` reads them.
    var fieldNames: [String] {
        switch role {
        case .hypercall: ["nr", "a0", "a1", "a2"]
        case .pageStateChangeMSR: ["vcpu_id", "ghcb_gpa"]
        }
    }

    public var description: String { "\(system):\(name)" }

    /// tracefs system and event names: letters, digits, `_`, `.`, `-` (no path separators).
    private static func isName(_ s: Substring) -> Bool {
        !s.isEmpty && s.count <= 255 && s != "." && s != ".."
            && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)) }
    }
}
