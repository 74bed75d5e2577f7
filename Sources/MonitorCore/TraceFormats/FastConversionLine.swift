/// The batch replay's first try for every line: a well-formed ftrace / trace-cmd / perf
/// `kvm_hypercall` line that is a valid MAP_GPA_RANGE conversion, straight to a plain record.
///
/// It answers only when `fastHypercall` (the per-event fast path) would give that conversion,
/// and declines (nil) for everything else, which then takes the per-event paths: other
/// hypercall numbers, requests KVM rejects, other layouts. What it saves: the timestamp and the
/// hex fields are read eight bytes at a time, the pid is only checked for being there (its value
/// and the vCPU are computed only when `ids` asks for them), the time's division is skipped when
/// the timestamp repeats, and no `MonitorEvent` is built.
extension TraceLineParser {
    /// A conversion read by the fast path; `pid` and `vcpu` are -1 unless asked for.
    struct FastConversion {
        var record: ConversionRecord
        var pid: Int32 = -1
        var vcpu: Int32 = -1

        var event: MonitorEvent {
            let r = record
            return .conversion(Conversion(time: r.time, pages: r.pages, direction: r.direction, vcpu: vcpu, pid: pid,
                                          path: r.path, anomalies: r.anomalies))
        }
    }

    @inline(__always)
    mutating func fastConversion(_ l: TraceLineBytes, ids: Bool) -> FastConversion? {
        let n = l.count
        let p = l.base
        guard !isReadingRecording, p[0] != TraceASCII.hash, let open = Self.firstBracket(l),
              p[open &- 1] == TraceASCII.space else { return nil }
        // ` [NNN] ` cpu column right at the first `[` (else the per-event path searches further).
        var i = open &+ 1
        while i < n && p[i] &- TraceASCII.zero < 10 { i &+= 1 }
        guard i > open &+ 1, i &+ 1 < n, p[i] == TraceASCII.closeBracket, p[i &+ 1] == TraceASCII.space else { return nil }
        i &+= 2
        while i < n && p[i] == TraceASCII.space { i &+= 1 }
        if i < n && p[i] &- TraceASCII.zero >= 10 {  // flags / latency column
            while i < n && p[i] != TraceASCII.space { i &+= 1 }
            while i < n && p[i] == TraceASCII.space { i &+= 1 }
        }
        // sec.frac: two runs of digits, eight at a time.
        guard i &+ 8 <= l.readable else { return nil }
        let (whole, wholeDigits) = Self.decimalRun(l, at: i)
        guard wholeDigits > 0 else { return nil }
        i &+= wholeDigits
        guard i < n, p[i] == TraceASCII.dot, i &+ 9 <= l.readable else { return nil }
        i &+= 1
        let (frac, fracDigits) = Self.decimalRun(l, at: i)
        guard fracDigits > 0, wholeDigits &+ fracDigits <= 15 else { return nil }
        i &+= fracDigits
        guard i &+ 16 < n, p[i] == TraceASCII.colon, p[i &+ 1] == TraceASCII.space else { return nil }
        let ticks = whole &* TraceLineBytes.powerOfTen(fracDigits) &+ frac
        let time: EventTime
        if ticks == fastTimeTicks && fracDigits == fastTimeDigits {
            time = fastTime
        } else {
            time = Double(ticks) / Double(TraceLineBytes.powerOfTen(fracDigits))
            fastTime = time; fastTimeTicks = ticks; fastTimeDigits = fracDigits
        }
        guard let afterName = l.indexPastHypercallName(from: i &+ 2) else { return nil }
        i = afterName
        // "nr 0xc" exactly (other numbers take the per-event path), then " aK 0x<hex>" for K = 0...3.
        guard i &+ 8 <= n, l.word(at: i) & 0xffff_ffff_ffff == 0x63_7830_2072_6e, l.endsField(i &+ 6) else { return nil }
        i &+= 6
        guard let (gpa, e0) = Self.field(l, key: 0x7830_2030_6120, at: i) else { return nil }
        let count: UInt64, attributes: UInt64
        if let (c, a) = Self.smallFieldTail(l, at: e0) {
            count = c; attributes = a
        } else {
            guard let (c, e1) = Self.field(l, key: 0x7830_2031_6120, at: e0),
                  let (a, e2) = Self.field(l, key: 0x7830_2032_6120, at: e1),
                  let (_, e3) = Self.field(l, key: 0x7830_2033_6120, at: e2),
                  e3 == n || l.onlyBlanks(from: e3) else { return nil }
            count = c; attributes = a
        }
        // As KVM validates (MapGPARangeRequest.event): rejections take the per-event path.
        let first = gpa >> GuestPage.shift
        guard gpa & (GuestPage.size - 1) == 0, count != 0, count <= UInt64.max - first else { return nil }
        var fast = FastConversion(record: ConversionRecord(
            time: time, pages: PageRange(first: first, count: count),
            direction: attributes & MapGPARangeRequest.encryptedBit != 0 ? .toPrivate : .toShared, path: .hypercall))
        if attributes & MapGPARangeRequest.reservedAttributeMask != 0 { fast.record.anomalies.insert(.reservedAttributeBits) }
        if first &+ count > PageRange.maxPage { fast.record.anomalies.insert(.beyondAddressSpace) }
        if ids {
            guard let (pid, vcpu) = Self.pidAndVcpu(l, anchorOpen: open) else { return nil }
            fast.pid = pid; fast.vcpu = vcpu
        } else {
            guard Self.hasPid(l, anchorOpen: open) else { return nil }
        }
        lastTime = time
        return fast
    }

    /// The first `[` after the line's first byte, eight bytes at a time (a comm is short).
    @inline(__always)
    static func firstBracket(_ l: TraceLineBytes) -> Int? {
        var i = 1
        let pattern: UInt64 = 0x5b5b_5b5b_5b5b_5b5b
        while i &+ 8 <= l.count {
            let x = l.word(at: i) ^ pattern
            let zero = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            if zero != 0 { return i &+ zero.trailingZeroBitCount &>> 3 }
            i &+= 8
        }
        return l.find(TraceASCII.openBracket, from: i)
    }

    /// Up to 16 decimal digits at `i` (within the line) and their value; the caller checks that
    /// eight bytes from `i` are readable.
    @inline(__always)
    static func decimalRun(_ l: TraceLineBytes, at i: Int) -> (value: UInt64, digits: Int) {
        var (v, c) = decimalWord(l.word(at: i), limit: l.count &- i)
        if c == 8 && i &+ 16 <= l.readable {
            let (v2, c2) = decimalWord(l.word(at: i &+ 8), limit: l.count &- i &- 8)
            v = v &* TraceLineBytes.powerOfTen(c2) &+ v2
            c &+= c2
        }
        return (v, c)
    }

    /// The leading decimal digits of eight bytes (first byte first), at most `limit`: value, count.
    @inline(__always)
    static func decimalWord(_ w: UInt64, limit: Int) -> (value: UInt64, digits: Int) {
        let x = w ^ 0x3030_3030_3030_3030  // '0'...'9' -> 0...9
        // A byte is not a digit when x >= 10: x + 0x76 sets its high bit (x >= 0x80 has it already).
        // A carry out of a non-digit byte only reaches later bytes, so the first non-digit is exact.
        let notDigit = ((x &+ 0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080
        var c = notDigit.trailingZeroBitCount &>> 3
        if c > limit { c = limit }
        if c <= 0 { return (0, 0) }
        // Digits to the top bytes (zero bytes below act as leading zeros), then pairwise sums.
        var v = x &<< UInt64(64 &- 8 &* c)
        v = (v &* 10) &+ (v &>> 8)
        v = ((v & 0x00ff_00ff_00ff_00ff) &* (100 &<< 16 &+ 1)) &>> 16
        v = ((v & 0x0000_ffff_0000_ffff) &* (10_000 &<< 32 &+ 1)) &>> 32
        return (v & 0xffff_ffff, c)
    }

    /// ` aK 0x<1-16 lower-case hex digits>` at `i`, `key` being the six bytes ` aK 0x`.
    @inline(__always)
    static func field(_ l: TraceLineBytes, key: UInt64, at i: Int) -> (UInt64, Int)? {
        guard i &+ 6 <= l.count, i &+ 8 <= l.readable, l.word(at: i) & 0xffff_ffff_ffff == key else { return nil }
        let v = i &+ 6
        // One digit (the page count, the attributes, a3): no word to convert.
        if v &+ 1 <= l.count && (v &+ 1 == l.count || l[v &+ 1] == TraceASCII.space) {
            let c = l[v]
            if c &- TraceASCII.zero < 10 { return (UInt64(c &- TraceASCII.zero), v &+ 1) }
            if c &- TraceASCII.lowerA < 6 { return (UInt64(c &- TraceASCII.lowerA &+ 10), v &+ 1) }
            return nil
        }
        return l.hex16(at: v)
    }

    /// ` a1 0x.. a2 0x.. a3 0x..` at `i` with one or two hex digits each, then the line's end or
    /// blanks (the common tail: page count and attributes below 256): a word compare per field
    /// instead of a `field` call. nil for any other tail, which `field` then reads (same values
    /// where both answer).
    @inline(__always)
    static func smallFieldTail(_ l: TraceLineBytes, at i: Int) -> (count: UInt64, attributes: UInt64)? {
        guard let (count, e1) = smallField(l, key: 0x7830_2031_6120, at: i),
              let (attributes, e2) = smallField(l, key: 0x7830_2032_6120, at: e1),
              let (_, e3) = smallField(l, key: 0x7830_2033_6120, at: e2),
              e3 == l.count || l.onlyBlanks(from: e3) else { return nil }
        return (count, attributes)
    }

    /// ` aK 0x` (`key`) and one or two lower-case hex digits at `i`, followed by a space or the
    /// line's end: the value and the index after the digits. nil otherwise (`field` decides).
    @inline(__always)
    static func smallField(_ l: TraceLineBytes, key: UInt64, at i: Int) -> (UInt64, Int)? {
        guard i &+ 7 <= l.count, i &+ 8 <= l.readable else { return nil }
        let w = l.word(at: i)
        guard w & 0xffff_ffff_ffff == key, let d0 = hexDigit(UInt8(truncatingIfNeeded: w &>> 48)) else { return nil }
        let next = UInt8(truncatingIfNeeded: w &>> 56)
        if i &+ 7 == l.count || next == TraceASCII.space { return (d0, i &+ 7) }
        guard let d1 = hexDigit(next), i &+ 8 == l.count || l[i &+ 8] == TraceASCII.space else { return nil }
        return (d0 &<< 4 | d1, i &+ 8)
    }

    /// A lower-case hex digit's value.
    @inline(__always)
    static func hexDigit(_ c: UInt8) -> UInt64? {
        if c &- TraceASCII.zero < 10 { return UInt64(c &- TraceASCII.zero) }
        if c &- TraceASCII.lowerA < 6 { return UInt64(c &- TraceASCII.lowerA &+ 10) }
        return nil
    }

    /// Whether `pidAndVcpu` finds a pid before the cpu column at `anchorOpen` (its only failure):
    /// 1-10 digits up to `Int32.max`, after blanks and an optional TGID `(…)`.
    @inline(__always)
    static func hasPid(_ l: TraceLineBytes, anchorOpen: Int) -> Bool {
        var j = TraceLineParser.lastPidDigit(l, anchorOpen: anchorOpen)
        let digitsEnd = j &+ 1
        while j >= 0 && l[j] &- TraceASCII.zero < 10 { j &-= 1 }
        let digits = digitsEnd &- j &- 1
        if digits <= 0 || digits > 10 { return false }
        if digits < 10 { return true }
        var pid: UInt64 = 0
        for k in (j &+ 1)..<digitsEnd { pid = pid &* 10 &+ UInt64(l[k] &- TraceASCII.zero) }
        return pid <= UInt64(Int32.max)
    }
}
