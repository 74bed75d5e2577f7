import SystemLibc
import Testing

/// The batch replay fast path against the per-event parsing it replaced, through the real
/// binary: `replay --json` and `--batch` must print the same bytes (and exit the same way) with
/// and without the hidden `--reference-parsing`, on every trace fixture of the repository and on
/// a generated trace of many layouts and variations.
@Suite(.serialized) struct FastPathEquivalenceTests {
    /// Trace text fixtures anywhere under Tests/ (`.txt`, `.log`).
    static func fixtures() -> [String] {
        var found: [String] = []
        func walk(_ dir: String) {
            guard let d = opendir(dir) else { return }
            defer { closedir(d) }
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name.hasPrefix(".") { continue }
                let path = dir + "/" + name
                if entry.pointee.d_type == UInt8(DT_DIR) { walk(path) } else if name.hasSuffix(".txt") || name.hasSuffix(".log") { found.append(path) }
            }
        }
        walk(Built.repositoryRoot + "/Tests")
        return found.sorted()
    }

    /// Both modes, fast and reference: identical stdout, stderr and status.
    func expectSameOutput(_ path: String, _ note: String = "") throws {
        for mode in [["--json"], ["--batch", "-n", "2", "-d", "1", "--speed", "max"]] {
            let fast = try run(Built.encmon, ["replay", path] + mode)
            let reference = try run(Built.encmon, ["replay", path, "--reference-parsing"] + mode)
            #expect(fast.status == reference.status, "\(path) \(mode) \(note)")
            #expect(fast.stdout == reference.stdout, "\(path) \(mode) \(note)")
            #expect(fast.stderr == reference.stderr, "\(path) \(mode) \(note)")
        }
    }

    @Test func everyFixturePrintsTheSameBytesThroughBothPaths() throws {
        let files = Self.fixtures()
        #expect(files.count >= 30, "\(files)")
        for f in files { try expectSameOutput(f) }
    }

    /// 300,000 lines: mostly fast-path lines in five layouts, with rejections, other numbers,
    /// repeated and nanosecond timestamps, odd spacing, CRLF, malformed and loss lines.
    @Test func aLargeGeneratedTracePrintsTheSameBytesThroughBothPaths() throws {
        let path = "/tmp/encmon-fastpath-\(getpid()).txt"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        var state: UInt64 = 14
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var micros: UInt64 = 9051_204113
        var out: [UInt8] = []
        for n in 0..<300_000 {
            let r = next()
            if r % 3 != 0 { micros &+= r % 40 }
            let frac = String(String(micros % 1_000_000 + 1_000_000).dropFirst())
            var stamp = "\(micros / 1_000_000).\(frac)"
            if r % 17 == 0 { stamp += "250" }
            let page = 0x100000 + (r >> 8) % 4096
            var gpa = String(page << 12, radix: 16)
            if r % 101 == 0 { gpa += "8" }  // unaligned: rejected
            var count = String(1 + (r >> 20) % 16, radix: 16)
            if r % 103 == 0 { count = "0" }
            let attrs = r % 107 == 0 ? "8000000000000010" : ((r >> 30) % 2 == 0 ? "0" : "10")
            let nr = r % 19 == 0 ? "1" : "c"
            var fields = "nr 0x\(nr) a0 0x\(gpa) a1 0x\(count) a2 0x\(attrs) a3 0x0"
            if r % 109 == 0 { fields += " extra" }
            if r % 113 == 0 { fields = "nr 0xc a0 0x\(gpa)  a1 0x\(count) a2 0x0 a3 0x0" }
            let pid = 4000 + (r >> 40) % 8
            let cpu = String(String((r >> 44) % 8 + 1000).dropFirst())
            var line: String
            switch (r >> 50) % 6 {
            case 0: line = "   qemu-system-x86-\(pid) [\(cpu)] d..1. \(stamp): kvm_hypercall: \(fields)"
            case 1: line = "       CPU \(pid % 4)/KVM-\(pid) (   4000) [\(cpu)] .... \(stamp): kvm_hypercall: \(fields)"
            case 2: line = "       CPU \(pid % 4)/KVM-\(pid)  [\(cpu)]  \(stamp): kvm_hypercall:        \(fields)"
            case 3: line = " qemu-system-x86  \(pid) [\(cpu)] \(stamp): kvm:kvm_hypercall: \(fields)"
            case 4: line = "   qemu-system-x86-\(pid) [\(cpu)] d..1. \(stamp): kvm_exit: reason 0x30"
            default:
                switch r % 5 {
                case 0: line = "CPU:\(cpu) [LOST \(r % 50) EVENTS]"
                case 1: line = "   qemu-system-x86- [\(cpu)] d..1. \(stamp): kvm_hypercall: \(fields)"
                case 2: line = "# comment \(n)"
                case 3: line = "   qemu-system-x86-\(pid) [\(cpu)] d..1. \(stamp): kvm_hypercall: nr 0xc a0"
                default: line = "   qemu-system-x86-\(pid) [\(cpu)] d..1. \(stamp): kvm_hypercall: \(fields)\r"
                }
            }
            out += Array((line + "\n").utf8)
            if out.count > 1 << 20 || n == 299_999 {
                let w = out.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                try #require(w == out.count)
                out.removeAll(keepingCapacity: true)
            }
        }
        close(fd)
        try expectSameOutput(path, "generated")
        // The fast path did the work: most of the lines were conversions.
        let json = try run(Built.encmon, ["replay", path, "--json"])
        #expect(json.status == 0 && json.stdout.contains("\"conversions\": "), "\(json.stderr)")
    }
}
