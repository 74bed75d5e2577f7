#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The trace shape of issue 14: real ftrace `kvm_hypercall` lines of one guest's DMA traffic,
/// 1,000 buffers of 1-16 pages flipping shared/private at random, so the map stays near a
/// thousand regions and every line is a conversion the churn table sees. Parsing and the
/// per-event cost, not the map's size, decide the ingest time here.
public enum FewRegionsTrace {
    public static let buffers = 1_000

    /// `$TMPDIR/encmon-bench-few-regions-v1-<lines>.txt` (about 430 MB), made once and reused.
    public static let shared: TraceFixture = make(lines: TraceFixture.lineCount)

    public static func make(lines: Int) -> TraceFixture {
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        let path = "\(dir)/encmon-bench-few-regions-v1-\(lines).txt"
        // A sidecar records the size of a complete file (written only after the rename).
        var st = stat()
        if let f = fopen(path + ".size", "r") {
            var recorded = 0
            let ok = readRecordedSize(f, &recorded)
            fclose(f)
            if ok && stat(path, &st) == 0 && Int(st.st_size) == recorded {
                return TraceFixture(path: path, byteCount: recorded, lineCount: lines)
            }
        }
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(tmp): errno \(errno)")
        let size = generate(to: fd, lines: lines)
        close(fd)
        precondition(rename(tmp, path) == 0, "rename \(tmp): errno \(errno)")
        if let f = fopen(path + ".size", "w") { fputs("\(size)\n", f); fclose(f) }
        return TraceFixture(path: path, byteCount: size, lineCount: lines)
    }

    /// Reads one decimal integer line.
    private static func readRecordedSize(_ f: UnsafeMutablePointer<FILE>, _ out: inout Int) -> Bool {
        var buf = [CChar](repeating: 0, count: 32)
        guard fgets(&buf, 32, f) != nil else { return false }
        let digits = buf.prefix { $0 >= 48 && $0 <= 57 }.map { UInt8(bitPattern: $0) }
        guard let v = Int(String(decoding: digits, as: UTF8.self)) else { return false }
        out = v
        return true
    }

    /// Writes the lines to `fd` and returns their byte count (the same lines for the same count).
    public static func generate(to fd: Int32, lines: Int) -> Int {
        var rng = SplitMix64(seed: 14)
        var pages = [UInt64](), shared = [Bool](repeating: false, count: buffers)
        for _ in 0..<buffers { pages.append([1, 1, 2, 4, 8, 16][Int(rng.next() % 6)]) }
        var micros: UInt64 = 9051 * 1_000_000 + 204_113
        var out = [UInt8]()
        out.reserveCapacity(1 << 20 + 256)
        var total = 0
        for n in 0..<lines {
            micros &+= rng.next() % 20
            let i = Int(rng.next() % UInt64(buffers))
            shared[i].toggle()
            let cpu = i % 8
            let gpa = (0x100000 + UInt64(i) * 0x40) << 12
            let frac = String(micros % 1_000_000)
            let text = "   qemu-system-x86-\(40515 + cpu) [\(cpu < 4 ? "00" : "0")\(cpu * 3)] d..1. \(micros / 1_000_000)."
                + String(repeating: "0", count: 6 - frac.count) + frac
                + ": kvm_hypercall: nr 0xc a0 0x\(String(gpa, radix: 16)) a1 0x\(String(pages[i], radix: 16)) a2 0x\(shared[i] ? "0" : "10") a3 0x0\n"
            out.append(contentsOf: text.utf8)
            if out.count >= 1 << 20 || n == lines - 1 {
                var done = 0
                while done < out.count {
                    let w = out.withUnsafeBytes { write(fd, $0.baseAddress! + done, out.count - done) }
                    precondition(w > 0, "write failed: errno \(errno)")
                    done += w
                }
                total += out.count
                out.removeAll(keepingCapacity: true)
            }
        }
        return total
    }
}
