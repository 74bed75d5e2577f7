import Testing
@testable import MonitorCore

/// The one-pass `kvm_hypercall` path must agree with the general parser on every line it answers.
@Suite struct TraceFormatsFastPathTests {
    /// Parses `line` placed in a buffer followed by `trailer` (bytes the word loads may see but
    /// must not use), once through the fast path and once through the general path only.
    static func bothPaths(_ line: String, trailer: [UInt8]) -> (fast: TraceLineOutcome, general: TraceLineOutcome) {
        var bytes = Array(line.utf8)
        let count = bytes.count
        bytes += trailer
        return bytes.withUnsafeBufferPointer { buf in
            let l = TraceLineBytes(base: buf.baseAddress!, count: count, readable: buf.count)
            var p1 = TraceLineParser()
            var p2 = TraceLineParser()
            let fast: TraceLineOutcome = p1.fastEvent(l).map { .event($0) } ?? p1.parse(l, endsWithNewline: true, triedFastPath: true)
            let general = p2.parse(l, endsWithNewline: true, triedFastPath: true)
            return (fast, general)
        }
    }

    static func randomHex(_ g: inout TraceFormatsRandom) -> String {
        switch g.next() % 8 {
        case 0: return "0x" + String(g.next(), radix: 16)
        case 1: return "0x" + String(g.next() % 16, radix: 16)
        case 2: return "0x" + String(g.next() % 0x1000, radix: 16)
        case 3: return "0x" + String(g.next() >> (g.next() % 64), radix: 16)
        case 4: return "0x" + String(g.next(), radix: 16, uppercase: true)
        case 5: return "0x00" + String(g.next() >> 8, radix: 16)  // leading zeros
        case 6: return "0x1" + String(repeating: "0", count: 16)  // overflow
        default: return "0x" + String((g.next() % (1 << 20)) << 12, radix: 16)
        }
    }

    @Test func fastAndGeneralPathsAgree() {
        var g = TraceFormatsRandom(state: 99)
        let prefixes = [
            "       CPU 2/KVM-40517   [007] d..1. ",
            "       CPU 2/KVM-40517   (  40480) [007] d..1. ",
            "           <...>-2913  [001] d... ",
            "       CPU 2/KVM-40517   [007] ",
            "       CPU 1/KVM   40516 [003] ",
            "CPU 11/KVM-7 [000] .N.2. ",
            "xCPU 1/KVM-7 [000] .... ",
        ]
        let times = ["9051.204113", "1.5", "123456789012", "99999999999.999999", "9007199254740993", "900719925474.0993", "12.", "1a.5", "0.000001"]
        let names = ["kvm_hypercall: ", "kvm:kvm_hypercall: ", "       kvm:kvm_hypercall: ", "kvm_hypercall:        ", "kvm_hypercal: "]
        var answered = 0
        for _ in 0..<20_000 {
            let prefix = prefixes[Int(g.next() % UInt64(prefixes.count))]
            let time = times[Int(g.next() % UInt64(times.count))]
            let name = names[Int(g.next() % UInt64(names.count))]
            let nr = g.next() % 4 == 0 ? Self.randomHex(&g) : "0xc"
            var payload = "nr \(nr) a0 \(Self.randomHex(&g)) a1 \(Self.randomHex(&g)) a2 \(g.next() % 2 == 0 ? "0x10" : Self.randomHex(&g)) a3 \(Self.randomHex(&g))"
            switch g.next() % 10 {
            case 0: payload += "  "
            case 1: payload = String(payload.dropLast(Int(g.next() % 6)))
            case 2: payload += " x"
            case 3: payload = payload.replacingOccurrences(of: " a1 ", with: "  a1 ")
            default: break
            }
            let line = prefix + time + ": " + name + payload
            // The bytes after the line: hex digits, to catch a word load that reads past the end.
            let trailer = Array((0..<Int(g.next() % 20)).map { _ in UInt8(ascii: "a") + UInt8(g.next() % 6) })
            let (fast, general) = Self.bothPaths(line, trailer: trailer)
            #expect(fast == general, "\(line)")
            if case .event = fast { answered += 1 }
        }
        #expect(answered > 5000)
    }

    @Test func hexWordMatchesTheReference() {
        var g = TraceFormatsRandom(state: 5)
        for _ in 0..<20_000 {
            let v = g.next() >> (g.next() % 64)
            let digits = String(v, radix: 16)
            let tail = ["", " ", "\n", "g", "G", ":", "\u{80}"][Int(g.next() % 7)]
            var bytes = Array((digits + tail).utf8)
            let count = bytes.count
            while bytes.count < 40 { bytes.append(UInt8(ascii: "7")) }  // digits past the end of the line
            bytes.withUnsafeBufferPointer { buf in
                let l = TraceLineBytes(base: buf.baseAddress!, count: count, readable: buf.count)
                let r = l.hex16(at: 0)
                #expect(r?.value == v && r?.end == digits.utf8.count, "\(digits + tail)")
            }
        }
    }

    @Test func hex16Limits() {
        func parse(_ s: String, count: Int? = nil) -> (UInt64, Int)? {
            var bytes = Array(s.utf8)
            let n = count ?? bytes.count
            bytes += Array(repeating: UInt8(ascii: "5"), count: 24)
            return bytes.withUnsafeBufferPointer { TraceLineBytes(base: $0.baseAddress!, count: n, readable: $0.count).hex16(at: 0) }
        }
        #expect(parse("ffffffffffffffff")! == (UInt64.max, 16))
        #expect(parse("ffffffffffffffff0") == nil)  // 17 digits
        #expect(parse("12345678")! == (0x12345678, 8))
        #expect(parse("123456789")! == (0x123456789, 9))
        #expect(parse("123456789", count: 3)! == (0x123, 3))
        #expect(parse("g") == nil)
        #expect(parse("") == nil)
        #expect(parse("abcdef01 ")! == (0xabcdef01, 8))
    }
}
