import CTracefs
@testable import MonitorCore
import Testing
@testable import LiveHost

/// Kernel format files of a 6.18 host (events/kvm/<event>/format), and the uprobe stand-in's.
enum Formats {
    /// The common fields, then the blank line that ends them (libtraceevent splits on it).
    static let common = """
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
        \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
        \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
        \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;


        """
    static let hypercall = """
        name: kvm_hypercall
        ID: 114
        format:
        \(common)\tfield:unsigned long nr;\toffset:8;\tsize:8;\tsigned:0;
        \tfield:unsigned long a0;\toffset:16;\tsize:8;\tsigned:0;
        \tfield:unsigned long a1;\toffset:24;\tsize:8;\tsigned:0;
        \tfield:unsigned long a2;\toffset:32;\tsize:8;\tsigned:0;
        \tfield:unsigned long a3;\toffset:40;\tsize:8;\tsigned:0;

        print fmt: "nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx", REC->nr, REC->a0, REC->a1, REC->a2, REC->a3
        """
    static let msrProtocol = """
        name: kvm_vmgexit_msr_protocol_enter
        ID: 45
        format:
        \(common)\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;
        \tfield:u64 ghcb_gpa;\toffset:16;\tsize:8;\tsigned:0;

        print fmt: "vcpu %u, ghcb_gpa %016llx", REC->vcpu_id, REC->ghcb_gpa
        """
    /// A uprobe: `__probe_ip` first, then the fields named like kvm_hypercall's.
    static let uprobe = """
        name: hc
        ID: 2001
        format:
        \(common)\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;
        \tfield:u64 nr;\toffset:16;\tsize:8;\tsigned:0;
        \tfield:u64 a0;\toffset:24;\tsize:8;\tsigned:0;
        \tfield:u64 a1;\toffset:32;\tsize:8;\tsigned:0;
        \tfield:u64 a2;\toffset:40;\tsize:8;\tsigned:0;
        \tfield:u64 a3;\toffset:48;\tsize:8;\tsigned:0;

        print fmt: "(%lx) nr=%llu a0=%llu a1=%llu a2=%llu a3=%llu", REC->__probe_ip, REC->nr, REC->a0, REC->a1, REC->a2, REC->a3
        """
    /// kvm_hypercall without a2: an event encmon cannot decode.
    static let hypercallWithoutA2 = hypercall.replacingOccurrences(of: "\tfield:unsigned long a2;\toffset:32;\tsize:8;\tsigned:0;\n", with: "")
}

extension String {
    func replacingOccurrences(of a: String, with b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: a) { out += rest[..<r.lowerBound]; out += b; rest = rest[r.upperBound...] }
        return out + rest
    }
}

/// An event parser holding the given formats, freed with the value.
final class TestParser {
    let tep: OpaquePointer
    init(_ formats: [(String, String)]) throws {
        tep = try #require(tep_alloc())
        tep_set_long_size(tep, 8)
        tep_set_file_bigendian(tep, TEP_LITTLE_ENDIAN)
        tep_set_local_bigendian(tep, TEP_LITTLE_ENDIAN)
        for (system, text) in formats {
            let rc = text.withCString { tep_parse_event(tep, $0, UInt(strlen($0)), system) }
            #expect(rc == TEP_ERRNO__SUCCESS)
        }
    }
    deinit { tep_free(tep) }
}

/// A raw record as the ring buffer holds it: the 8-byte common header, then the fields (little endian).
func rawRecord(type: UInt16, pid: Int32, fields: [(offset: Int, size: Int, value: UInt64)], size: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: size)
    func put(_ v: UInt64, at o: Int, _ n: Int) { for i in 0..<n where o + i < size { bytes[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
    put(UInt64(type), at: 0, 2)
    put(UInt64(UInt32(bitPattern: pid)), at: 4, 4)
    for f in fields { put(f.value, at: f.offset, f.size) }
    return bytes
}

func decode(_ decoder: TraceEventDecoder, _ bytes: [UInt8], ns: UInt64) -> TraceEventDecoder.Outcome {
    var copy = bytes
    return copy.withUnsafeMutableBytes { raw in
        var record = tep_record()
        record.ts = ns
        record.size = Int32(raw.count)
        record.data = raw.baseAddress
        return withUnsafeMutablePointer(to: &record) { decoder.decode($0) }
    }
}

@Suite struct TraceEventDecoderTests {
    /// Random records decoded by name through libtraceevent agree with the text parser reading
    /// the same event as ftrace prints it: two independent decoders of one kernel format.
    @Test func binaryRecordsDecodeLikeTheirFtraceText() throws {
        let parser = try TestParser([("kvm", Formats.hypercall), ("kvm", Formats.msrProtocol)])
        let decoder = TraceEventDecoder(tep: parser.tep, vcpuOfThread: { $0 == 4242 ? 2 : -1 })
        try decoder.watch([.kvmHypercall, .snpPageStateChange])
        #expect(decoder.decodedEvents == [.kvmHypercall, .snpPageStateChange])
        var rng = SplitMix64(seed: 7)
        var textParser = TraceLineParser()
        var compared = 0
        for i in 0..<5000 {
            let micros = 1_000_000 + UInt64(i) * 17
            let ns = micros * 1000
            let time = "\(micros / 1_000_000).\(String(micros % 1_000_000).leftPadded(6, "0"))"
            let pid: Int32 = i % 2 == 0 ? 4242 : 777
            let comm = pid == 4242 ? "CPU 2/KVM" : "qemu-system-x86"
            let line: String
            let bytes: [UInt8]
            if rng.next() % 4 == 0 {
                // GHCB MSR requests: PSC (0x014, op 1 or 2) and others.
                let vcpu = rng.next() % 64
                let gfn = rng.next() & ((1 << 40) - 1)
                let op = rng.next() % 4
                let code: UInt64 = rng.next() % 3 == 0 ? 0x004 : 0x014
                let msr = (op << 52) | (gfn << 12) | code
                bytes = rawRecord(type: 45, pid: pid, fields: [(8, 4, vcpu), (16, 8, msr)], size: 24)
                line = "\(comm.leftPadded(16))-\(pid)  [001] d..1.  \(time): kvm_vmgexit_msr_protocol_enter: vcpu \(vcpu), ghcb_gpa \(String(msr, radix: 16).leftPadded(16, "0"))"
            } else {
                let nr: UInt64 = rng.next() % 8 == 0 ? rng.next() % 20 : 12
                let gpa = rng.next() % 2 == 0 ? (rng.next() % (1 << 40)) << 12 : rng.next()
                let pages = rng.next() % 5 == 0 ? rng.next() : rng.next() % 1024
                let attrs = rng.next() % 6 == 0 ? rng.next() : [0, 0x10, 0x1, 0x11][Int(rng.next() % 4)]
                let a3 = rng.next()
                bytes = rawRecord(type: 114, pid: pid, fields: [(8, 8, nr), (16, 8, gpa), (24, 8, pages), (32, 8, attrs), (40, 8, a3)], size: 48)
                line = "\(comm.leftPadded(16))-\(pid)  [001] d..1.  \(time): kvm_hypercall: nr 0x\(String(nr, radix: 16)) a0 0x\(String(gpa, radix: 16)) a1 0x\(String(pages, radix: 16)) a2 0x\(String(attrs, radix: 16)) a3 0x\(String(a3, radix: 16))"
            }
            let binary = decode(decoder, bytes, ns: ns)
            switch textParser.parse(line) {
            case .event(let e):
                #expect(binary == .event(e), "\(line)")
                compared += 1
            case .skipped:
                #expect(binary == .skipped, "\(line)")
            default:
                Issue.record("text parser rejected \(line)")
            }
        }
        #expect(compared > 4000)
    }

    @Test func uprobeStandInDecodesAsAHypercall() throws {
        let parser = try TestParser([("encmon_e2e", Formats.uprobe)])
        let decoder = TraceEventDecoder(tep: parser.tep)
        decoder.watchRecognisedEvents()
        #expect(decoder.decodedEvents.map(\.description) == ["encmon_e2e:hc"])
        let bytes = rawRecord(type: 2001, pid: 99, fields: [(8, 8, 0x5555_1129), (16, 8, 12), (24, 8, 0x1f018000), (32, 8, 4), (40, 8, 0), (48, 8, 0)], size: 56)
        let expected = MonitorEvent.conversion(Conversion(time: 2.5, pages: PageRange(first: 0x1f018, count: 4), direction: .toShared, vcpu: -1, pid: 99, path: .hypercall))
        #expect(decode(decoder, bytes, ns: 2_500_000_000) == .event(expected))
    }

    @Test func shortRecordsAreMalformedNotRead() throws {
        let parser = try TestParser([("kvm", Formats.hypercall)])
        let decoder = TraceEventDecoder(tep: parser.tep)
        try decoder.watch([.kvmHypercall])
        let full = rawRecord(type: 114, pid: 1, fields: [(8, 8, 12), (16, 8, 0x1000), (24, 8, 1), (32, 8, 0)], size: 48)
        for size in [0, 4, 8, 16, 39] {
            #expect(decode(decoder, Array(full.prefix(size)), ns: 0) == .malformed, "size \(size)")
        }
        // a3 is not read, so 40 bytes are enough.
        #expect(decode(decoder, Array(full.prefix(40)), ns: 0) != .malformed)
        // Another event id: not watched.
        let other = rawRecord(type: 999, pid: 1, fields: [], size: 48)
        #expect(decode(decoder, other, ns: 0) == .notWatched)
    }

    @Test func eventsWithoutTheFieldsAreRefusedByName() throws {
        let parser = try TestParser([("kvm", Formats.hypercallWithoutA2)])
        let decoder = TraceEventDecoder(tep: parser.tep)
        #expect(throws: TracefsError.fieldMissing(system: "kvm", event: "kvm_hypercall", field: "a2")) {
            try decoder.watch([.kvmHypercall])
        }
        // A missing event is left out, not an error here (the caller checks what was found).
        try decoder.watch([.snpPageStateChange])
        #expect(decoder.decodedEvents.isEmpty)
    }
}

extension String {
    func leftPadded(_ width: Int, _ pad: Character = " ") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
