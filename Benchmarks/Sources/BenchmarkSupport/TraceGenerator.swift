#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes the benchmark trace: `kvm_hypercall` lines of a busy SEV/TDX host, deterministic, in the
/// layout variants encmon reads, mixed line by line:
///
/// - ftrace `trace`, pid width 7, 5-char flags (6.x kernels);
/// - ftrace, pid width 5, 4-char flags (pre-5.9);
/// - ftrace with the record-tgid column `(  40480)`;
/// - `trace-cmd report` (event name padded after the colon);
/// - `perf script` (`comm  tid [cpu] time: kvm:kvm_hypercall:`).
///
/// Payload: 95% MAP_GPA_RANGE (nr 0xc) over 4..68 GiB, 1-16 pages, to shared or private at random
/// (so the region map grows to hundreds of thousands of regions), 5% other hypercalls.
public struct TraceGenerator {
    public static let defaultSeed: UInt64 = 0x5EE_DBA5E

    public private(set) var linesWritten = 0
    public private(set) var bytesWritten = 0
    /// Lines that encmon turns into an event (every line here is one).
    public private(set) var hypercalls = 0
    private var rng: SplitMix64
    private var micros: UInt64 = 9051 * 1_000_000 + 204_113
    private var line = [UInt8]()

    public init(seed: UInt64 = TraceGenerator.defaultSeed) {
        rng = SplitMix64(seed: seed)
        line.reserveCapacity(256)
    }

    /// Writes whole lines to `fd` until `lines` lines or `bytes` bytes (whichever is set and comes
    /// first). Buffered in 1 MiB writes.
    public mutating func write(to fd: Int32, lines maxLines: Int = .max, bytes maxBytes: Int = .max) {
        var out = [UInt8]()
        out.reserveCapacity(1 << 20 + 512)
        while linesWritten < maxLines && bytesWritten < maxBytes {
            nextLine()
            out.append(contentsOf: line)
            linesWritten += 1
            bytesWritten += line.count
            if out.count >= 1 << 20 { Self.writeAll(fd, out); out.removeAll(keepingCapacity: true) }
        }
        Self.writeAll(fd, out)
    }

    /// The hostile guest: `regions` single pages, every other page from 4 GiB up, made shared one
    /// line at a time (ftrace layout), so the map ends with `regions` regions.
    public mutating func writeAlternating(to fd: Int32, regions: Int) {
        var out = [UInt8]()
        out.reserveCapacity(1 << 20 + 512)
        for i in 0..<UInt64(regions) {
            line.removeAll(keepingCapacity: true)
            micros += 1 + rng.next(below: 40)
            put("       CPU 0/KVM-40515   [001] d..1. "); time(width: 12); put(": kvm_hypercall: nr 0xc a0 0x")
            hex((1 << 32) + (2 * i) << 12); put(" a1 0x1 a2 0x0 a3 0x0\n")
            out.append(contentsOf: line)
            linesWritten += 1
            bytesWritten += line.count
            if out.count >= 1 << 20 { Self.writeAll(fd, out); out.removeAll(keepingCapacity: true) }
        }
        Self.writeAll(fd, out)
    }

    /// The lines as one array (small traces in memory).
    public mutating func bytes(lines: Int) -> [UInt8] {
        var out = [UInt8]()
        for _ in 0..<lines {
            nextLine()
            out.append(contentsOf: line)
            linesWritten += 1
            bytesWritten += line.count
        }
        return out
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var p = raw.baseAddress!
            var left = raw.count
            while left > 0 {
                let n = Glibc.write(fd, p, left)
                if n < 0 { if errno == EINTR { continue }; fatalError("write: errno \(errno)") }
                p += n; left -= n
            }
        }
    }

    private mutating func nextLine() {
        line.removeAll(keepingCapacity: true)
        micros += 1 + rng.next(below: 40)
        let vcpu = Int(rng.next(below: 16))
        let tid = 40515 + vcpu
        let cpu = Int(rng.next(below: 64))
        let nr: UInt64
        var a0: UInt64 = 0, a1: UInt64 = 0, a2: UInt64 = 0, a3: UInt64 = 0
        if rng.next(below: 20) == 0 {
            nr = 5  // KVM_HC_KICK_CPU
            a1 = UInt64(vcpu)
        } else {
            nr = 12
            a0 = (1 << 32) + rng.next(below: 1 << 24) << 12  // 4 GiB + up to 64 GiB, page aligned
            a1 = 1 + rng.next(below: 16)
            a2 = rng.next(below: 2) == 0 ? 0 : 0x10
        }
        hypercalls += 1
        switch rng.next(below: 5) {
        case 0:  // ftrace, pid width 7, 5-char flags
            put("       CPU "); dec(vcpu); put("/KVM-"); dec(tid); pad(to: 33); put("["); dec(cpu, width: 3)
            put("] d..1. "); time(width: 12); put(": kvm_hypercall: ")
        case 1:  // ftrace pre-5.9: pid width 5, 4-char flags
            put("       CPU "); dec(vcpu); put("/KVM-"); dec(tid % 100_000); pad(to: 27); put("["); dec(cpu, width: 3)
            put("] d... "); time(width: 12); put(": kvm_hypercall: ")
        case 2:  // ftrace with the record-tgid column
            put("       CPU "); dec(vcpu); put("/KVM-"); dec(tid); pad(to: 33); put("(  40480) ["); dec(cpu, width: 3)
            put("] d..1. "); time(width: 12); put(": kvm_hypercall: ")
        case 3:  // trace-cmd report
            put("       CPU "); dec(vcpu); put("/KVM-"); dec(tid); put(" ["); dec(cpu, width: 3)
            put("] d..1. "); time(width: 12); put(": kvm_hypercall:        ")
        default:  // perf script
            put("       CPU "); dec(vcpu); put("/KVM"); pad(to: 25); dec(tid); put(" ["); dec(cpu, width: 3)
            put("] "); time(width: 12); put(":                  kvm:kvm_hypercall: ")
        }
        put("nr 0x"); hex(nr); put(" a0 0x"); hex(a0); put(" a1 0x"); hex(a1)
        put(" a2 0x"); hex(a2); put(" a3 0x"); hex(a3)
        line.append(10)
    }

    @inline(__always) private mutating func put(_ s: StaticString) {
        line.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private mutating func pad(to column: Int) {
        while line.count < column { line.append(32) }
    }

    private mutating func dec(_ v: Int, width: Int = 0) {
        var digits: [UInt8] = []
        var v = v
        repeat { digits.append(UInt8(48 + v % 10)); v /= 10 } while v > 0
        while digits.count < width { digits.append(48) }
        line.append(contentsOf: digits.reversed())
    }

    private mutating func hex(_ v: UInt64) {
        var digits: [UInt8] = []
        var v = v
        repeat { let d = UInt8(v & 15); digits.append(d < 10 ? 48 + d : 87 + d); v >>= 4 } while v > 0
        line.append(contentsOf: digits.reversed())
    }

    /// `sec.micros`, right-aligned in `width`.
    private mutating func time(width: Int) {
        let start = line.count
        dec(Int(micros / 1_000_000))
        line.append(46)
        dec(Int(micros % 1_000_000), width: 6)
        let used = line.count - start
        if used < width { line.insert(contentsOf: repeatElement(32, count: width - used), at: start) }
    }
}

/// A small fast PRNG (Vigna's SplitMix64): deterministic across platforms and runs.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    @inline(__always) public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform enough in `0..<n` for benchmarks (multiply-shift, no rejection).
    @inline(__always) public mutating func next(below n: UInt64) -> UInt64 {
        next().multipliedFullWidth(by: n).high
    }
}
