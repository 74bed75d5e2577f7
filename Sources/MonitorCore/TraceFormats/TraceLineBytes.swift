import SystemLibc

/// One line of trace text as raw bytes (no newline, no CR), borrowed from the reader's buffer.
///
/// Every scan is bounds-checked against `count` by hand; the subscript itself is not, so the hot
/// path costs no traps. Indices are plain `Int` offsets from `base`.
struct TraceLineBytes {
    let base: UnsafePointer<UInt8>
    let count: Int
    /// Bytes from `base` that may be loaded (>= count): the reader's buffer has slack after every
    /// line, so word loads near the end of a line stay inside it. Bytes past `count` are never
    /// taken as part of the line.
    let readable: Int

    @inline(__always)
    init(base: UnsafePointer<UInt8>, count: Int, readable: Int? = nil) {
        self.base = base; self.count = count; self.readable = max(count, readable ?? count)
    }

    @inline(__always)
    subscript(i: Int) -> UInt8 { base[i] }

    @inline(__always)
    func skipSpaces(from i: Int) -> Int {
        var i = i
        while i < count && base[i] == TraceASCII.space { i &+= 1 }
        return i
    }

    /// The first index at or after `i` holding a space, or `count`.
    @inline(__always)
    func scanToSpace(from i: Int) -> Int {
        var i = i
        while i < count && base[i] != TraceASCII.space { i &+= 1 }
        return i
    }

    /// True when only spaces and tabs follow `i`.
    @inline(__always)
    func onlyBlanks(from i: Int) -> Bool {
        var i = i
        while i < count {
            let c = base[i]
            if c != TraceASCII.space && c != TraceASCII.tab { return false }
            i &+= 1
        }
        return true
    }

    /// First index of `byte` in `from ..< count`.
    @inline(__always)
    func find(_ byte: UInt8, from: Int) -> Int? {
        guard from < count, let hit = memchr(base + from, Int32(byte), count - from) else { return nil }
        return UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
    }

    /// First index of `needle` in `from ..< count`.
    func find(_ needle: StaticString, from: Int = 0) -> Int? {
        let m = needle.utf8CodeUnitCount
        let first = needle.utf8Start[0]
        var i = from
        while i + m <= count, let j = find(first, from: i) {
            if j + m > count { return nil }
            if memcmp(base + j, needle.utf8Start, m) == 0 { return j }
            i = j + 1
        }
        return nil
    }

    /// Whether `literal` is at `i`.
    @inline(__always)
    func has(_ literal: StaticString, at i: Int) -> Bool {
        let m = literal.utf8CodeUnitCount
        guard i >= 0 && i + m <= count else { return false }
        let q = literal.utf8Start
        var k = 0
        while k < m {
            if base[i &+ k] != q[k] { return false }
            k &+= 1
        }
        return true
    }

    /// Eight bytes at `i` as a little-endian word; the caller checks `i + 8 <= count`.
    @inline(__always)
    func word(at i: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
    }

    /// Whether `start ..< end` spells `literal` exactly.
    @inline(__always)
    func equals(_ literal: StaticString, from start: Int, to end: Int) -> Bool {
        end - start == literal.utf8CodeUnitCount && memcmp(base + start, literal.utf8Start, end - start) == 0
    }

    /// Hex digits (no prefix) at `i`, at least one. nil when there is no digit or the value does not
    /// fit in 64 bits. `end` is the first non-hex index.
    @inline(__always)
    func hex(at i: Int) -> (value: UInt64, end: Int)? {
        var i = i
        let start = i
        var v: UInt64 = 0
        while i < count {
            let c = base[i]
            var d = c &- TraceASCII.zero
            if d >= 10 {
                d = (c | 0x20) &- TraceASCII.lowerA
                if d >= 6 { break }
                d &+= 10
            }
            if v >> 60 != 0 { return nil }  // a fifth nibble past 64 bits
            v = v << 4 | UInt64(d)
            i &+= 1
        }
        return i > start ? (v, i) : nil
    }

    /// 1 to 16 lower-case hex digits at `i`, eight at a time (SWAR); nil for none or more than 16.
    @inline(__always)
    func hex16(at i: Int) -> (value: UInt64, end: Int)? {
        guard i &+ 16 <= readable else {
            guard let (v, e) = hex(at: i), e &- i <= 16 else { return nil }
            return (v, e)
        }
        let (v, c) = Self.hexWord(word(at: i), limit: count &- i)
        if c < 8 { return c > 0 ? (v, i &+ c) : nil }
        let j = i &+ 8
        // Nine digits (a guest address above 4 GiB): the ninth without a second word conversion.
        if j &+ 1 <= count, j &+ 1 == count || !Self.isLowerHexDigit(base[j &+ 1]) {
            let d = base[j]
            if d &- TraceASCII.zero < 10 { return (v &<< 4 | UInt64(d &- TraceASCII.zero), j &+ 1) }
            if d &- TraceASCII.lowerA < 6 { return (v &<< 4 | UInt64(d &- TraceASCII.lowerA &+ 10), j &+ 1) }
        }
        let (v2, c2) = Self.hexWord(word(at: j), limit: count &- j)
        if c2 == 8 {
            let k = j &+ 8
            if k < count, Self.isLowerHexDigit(base[k]) { return nil }
        }
        return (c2 == 0 ? v : v &<< UInt64(4 &* c2) | v2, j &+ c2)
    }

    @inline(__always)
    static func isLowerHexDigit(_ c: UInt8) -> Bool { c &- TraceASCII.zero < 10 || c &- TraceASCII.lowerA < 6 }

    /// The value of the leading lower-case hex digits of eight bytes (first byte = most significant
    /// digit), at most `limit` of them, and how many there were.
    @inline(__always)
    static func hexWord(_ w: UInt64, limit: Int) -> (value: UInt64, digits: Int) {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let w7 = w & ~high  // bytes >= 0x80 are excluded below; this keeps the adds carry-free
        let atLeast0 = w7 &+ (0x80 - 0x30) &* ones
        let above9 = w7 &+ (0x7f - 0x39) &* ones
        let atLeastA = w7 &+ (0x80 - 0x61) &* ones
        let aboveF = w7 &+ (0x7f - 0x66) &* ones
        let digit = ((atLeast0 & ~above9) | (atLeastA & ~aboveF)) & ~w & high
        var c = (~digit & high).trailingZeroBitCount &>> 3
        if c > limit { c = limit }
        if c <= 0 { return (0, 0) }
        // '0'-'9' -> 0-9, 'a'-'f' -> 10-15 (bit 6 marks the letters), first digit into the top.
        var n = (w & 0x0f0f_0f0f_0f0f_0f0f) &+ ((w &>> 6) & ones) &* 9
        n = n.byteSwapped &>> UInt64(64 &- 8 &* c)
        n = (n | n &>> 4) & 0x00ff_00ff_00ff_00ff
        n = (n | n &>> 8) & 0x0000_ffff_0000_ffff
        n = (n | n &>> 16) & 0x0000_0000_ffff_ffff
        return (n, c)
    }

    /// `0x` followed by hex digits.
    @inline(__always)
    func hex0x(at i: Int) -> (value: UInt64, end: Int)? {
        guard i + 2 < count, base[i] == TraceASCII.zero, base[i + 1] | 0x20 == TraceASCII.lowerX else { return nil }
        return hex(at: i + 2)
    }

    /// Decimal digits at `i`, at least one; nil on overflow.
    @inline(__always)
    func decimal(at i: Int) -> (value: UInt64, end: Int)? {
        var i = i
        let start = i
        var v: UInt64 = 0
        while i < count {
            let d = base[i] &- TraceASCII.zero
            if d >= 10 { break }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = s
            i &+= 1
        }
        return i > start ? (v, i) : nil
    }

    /// `0x`-prefixed hex or plain decimal.
    @inline(__always)
    func number(at i: Int) -> (value: UInt64, end: Int)? {
        if i + 1 < count, base[i] == TraceASCII.zero, base[i + 1] | 0x20 == TraceASCII.lowerX { return hex0x(at: i) }
        return decimal(at: i)
    }

    /// From `i` (spaces skipped): the index past "kvm_hypercall: " or perf's "kvm:kvm_hypercall: "
    /// and the spaces after it, or nil when neither name is there. Compared a word at a time.
    @inline(__always)
    func indexPastHypercallName(from start: Int) -> Int? {
        var i = start
        while i < count && base[i] == TraceASCII.space { i &+= 1 }
        guard i &+ 16 <= count else { return nil }
        let w0 = word(at: i), w1 = word(at: i &+ 8)
        if w0 == 0x6570_7968_5f6d_766b && w1 & 0x00ff_ffff_ffff_ffff == 0x20_3a6c_6c61_6372 {  // "kvm_hype" "rcall: "
            i &+= 15
        } else if w0 == 0x5f6d_766b_3a6d_766b && w1 == 0x6c61_6372_6570_7968 && has("l: ", at: i &+ 16) {  // "kvm:kvm_" "hypercal"
            i &+= 19
        } else {
            return nil
        }
        while i < count && base[i] == TraceASCII.space { i &+= 1 }
        return i
    }

    /// Whether `i` ends a field: end of line or a space.
    @inline(__always)
    func endsField(_ i: Int) -> Bool { i == count || base[i] == TraceASCII.space }

    /// A trace timestamp filling `start ..< end` exactly: `sec.frac` or a bare integer (counter
    /// clocks). Exact for up to 15 significant digits (the value is one correctly rounded division),
    /// so `9051.204113` parses to the same Double as the literal.
    func time(from start: Int, to end: Int) -> EventTime? {
        guard start < end, let (whole, e1) = decimal(at: start) else { return nil }
        if e1 == end { return Double(whole) }
        guard base[e1] == TraceASCII.dot, e1 + 1 < end, let (frac, e2) = decimal(at: e1 + 1), e2 == end else { return nil }
        let digits = e2 - e1 - 1
        if digits <= 15 {
            let scale = Self.powerOfTen(digits)
            let (m, o1) = whole.multipliedReportingOverflow(by: scale)
            let (total, o2) = m.addingReportingOverflow(frac)
            if !o1 && !o2 && total < (1 << 53) { return Double(total) / Double(scale) }
        }
        return Double(text(from: start, to: end))
    }

    @inline(__always)
    static func powerOfTen(_ n: Int) -> UInt64 {
        switch n {
        case 6: return 1_000_000
        case 9: return 1_000_000_000
        case 3: return 1_000
        default:
            var p: UInt64 = 1
            for _ in 0..<n { p &*= 10 }
            return p
        }
    }

    /// ISO-8601 UTC `YYYY-MM-DDTHH:MM:SS[.frac]Z` at `i`, as Unix seconds. `end` is after the `Z`.
    func isoTime(at i: Int) -> (value: EventTime, end: Int)? {
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= count else { return nil }
            var v = 0
            for k in 0..<n {
                let d = base[at + k] &- TraceASCII.zero
                if d >= 10 { return nil }
                v = v * 10 + Int(d)
            }
            return v
        }
        guard let y = digits(i, 4), has("-", at: i + 4), let mo = digits(i + 5, 2), has("-", at: i + 7),
              let d = digits(i + 8, 2), i + 10 < count, base[i + 10] == UInt8(ascii: "T"),
              let h = digits(i + 11, 2), has(":", at: i + 13), let mi = digits(i + 14, 2), has(":", at: i + 16),
              let s = digits(i + 17, 2),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s <= 60 else { return nil }
        var j = i + 19
        var frac: UInt64 = 0
        var fracDigits = 0
        if j < count && base[j] == TraceASCII.dot {
            guard let (f, e) = decimal(at: j + 1), e - j - 1 <= 12 else { return nil }
            frac = f; fracDigits = e - j - 1; j = e
        }
        guard j < count && base[j] == UInt8(ascii: "Z") else { return nil }
        let seconds = Int64(Self.daysFromCivil(year: y, month: mo, day: d)) * 86_400 + Int64(h * 3600 + mi * 60 + s)
        guard seconds >= 0 else { return nil }
        let scale = Self.powerOfTen(fracDigits)
        // Exact as one division while it fits 53 bits; a year-9999 date with 12 fraction digits does not.
        let (m, o1) = UInt64(seconds).multipliedReportingOverflow(by: scale)
        let (total, o2) = m.addingReportingOverflow(frac)
        let t = !o1 && !o2 && total < (1 << 53) ? Double(total) / Double(scale) : Double(seconds) + Double(frac) / Double(scale)
        return (t, j + 1)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// A copy of `start ..< end` as text (invalid UTF-8 repaired). Not for the hot path.
    func text(from start: Int = 0, to end: Int? = nil) -> String {
        let e = end ?? count
        return String(decoding: UnsafeBufferPointer(start: base + start, count: max(0, e - start)), as: UTF8.self)
    }
}


enum TraceASCII {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")
    static let zero = UInt8(ascii: "0")
    static let lowerA = UInt8(ascii: "a")
    static let lowerX = UInt8(ascii: "x")
    static let dot = UInt8(ascii: ".")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let hash = UInt8(ascii: "#")
    static let dash = UInt8(ascii: "-")
    static let slash = UInt8(ascii: "/")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let openParen = UInt8(ascii: "(")
    static let closeParen = UInt8(ascii: ")")
    static let equals = UInt8(ascii: "=")
    static let at = UInt8(ascii: "@")
}
