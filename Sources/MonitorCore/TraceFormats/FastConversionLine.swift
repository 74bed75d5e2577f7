/// The batch replay's first try for every line: a well-formed ftrace / trace-cmd / perf
/// `kvm_hypercall` line that is a valid MAP_GPA_RANGE conversion, straight to a plain record.
///
/// It answers only when `fastHypercall` (the per-event fast path) would give that conversion,
/// and declines (nil) for everything else, which then takes the per-event paths: other
/// hypercall numbers, requests KVM rejects, other layouts, anything unusual. What it saves: the
/// columns, the timestamp and the hex fields are read eight bytes at a time, the pid is only
/// checked for being there (its value and the vCPU are computed only when `ids` asks for them),
/// the time's division is skipped when the timestamp repeats, and no `MonitorEvent` is built.
///
/// `fastConversionAhead` reads a line whose end is not known yet (the reader's bytes from a
/// line's start to the end of its buffer) and finds the newline itself, so that a line it takes
/// costs no separate newline search. Every scan in it stops at a newline (none skips "anything
/// but X"), so a line it answers for has no newline before its end.
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

    /// The fast path for a line of exactly `l.count` bytes (its newline and CR already cut off).
    @inline(__always)
    mutating func fastConversion(_ l: TraceLineBytes, ids: Bool) -> FastConversion? {
        guard let (fast, end) = fastConversionFields(l, ids: ids), end == l.count else { return nil }
        lastTime = fast.record.time
        return fast
    }

    /// The fast path for the line starting at `l.base`, `l.count` being the bytes known to be
    /// there (the line and whatever follows it): the conversion, the line's length (without its
    /// `\n` or `\r\n`) and the length with it. nil when the line is not one the fast path takes,
    /// is longer than `maxLength`, or its newline is not within `l.count` bytes.
    @inline(__always)
    mutating func fastConversionAhead(_ l: TraceLineBytes, ids: Bool, maxLength: Int)
        -> (conversion: FastConversion, length: Int, next: Int)? {
        guard let (fast, end) = fastConversionFields(l, ids: ids), end <= maxLength, end < l.count else { return nil }
        let next: Int
        let c = l[end]
        if c == TraceASCII.newline {
            next = end &+ 1
        } else if c == TraceASCII.cr && end &+ 1 < l.count && l[end &+ 1] == TraceASCII.newline {
            next = end &+ 2
        } else {
            return nil
        }
        lastTime = fast.record.time
        return (fast, end, next)
    }

    /// The line's fields from its start: the conversion and the index after the last field and
    /// the blanks after it, where the line must end (`l.count`, a newline or a CR). Does not set
    /// `lastTime` (the caller decides whether the line ends there).
    @inline(__always)
    mutating func fastConversionFields(_ l: TraceLineBytes, ids: Bool) -> (FastConversion, end: Int)? {
        let n = l.count
        let p = l.base
        guard !isReadingRecording, n > 0, p[0] != TraceASCII.hash, p[0] != TraceASCII.newline,
              let (open, timestampStart, knownPrefix) = fastPrefix(l) else { return nil }
        var i = timestampStart
        // sec.frac: two runs of digits, eight at a time. The seconds with their dot are mostly
        // the last line's: one masked compare then.
        guard i &+ 8 <= l.readable else { return nil }
        let whole: UInt64, wholeDigits: Int
        let secondsWord = l.word(at: i)
        if (secondsWord ^ fastSeconds.text) & fastSeconds.mask == 0 && i &+ fastSeconds.digits < n {
            whole = fastSeconds.value; wholeDigits = fastSeconds.digits
        } else {
            (whole, wholeDigits) = Self.decimalRun(l, at: i)
            guard wholeDigits > 0, i &+ wholeDigits < n, p[i &+ wholeDigits] == TraceASCII.dot else { return nil }
            if wholeDigits < 8 { fastSeconds = FastSeconds(secondsWord, digits: wholeDigits, value: whole) }
        }
        i &+= wholeDigits &+ 1
        guard i &+ 8 <= l.readable else { return nil }
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
        // a0, a guest physical address: up to 16 digits (13 below 2^52).
        guard i &+ 7 <= n, i &+ 22 <= l.readable, l.word(at: i) & 0xffff_ffff_ffff == 0x7830_2030_6120,
              let (gpa, e0) = l.hex16(at: i &+ 6) else { return nil }
        guard let (count, attributes, end) = Self.smallFields(l, from: e0) else { return nil }
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
        } else if !knownPrefix {
            guard Self.hasPid(l, anchorOpen: open) else { return nil }
        }
        // The prefix's facts (bracket, timestamp start, a pid) hold whatever follows it.
        if !knownPrefix { fastPrefixes.keep(l, open: open, timestampStart: timestampStart) }
        return (fast, end)
    }

    /// ` a1 0x<hex> a2 0x<hex> a3 0x<hex>` from `e0` and the blanks up to where the line may
    /// end: count, attributes, end. One or two hex digits each (page count and attributes below
    /// 256) are read a word a field, written out here (a call costs as much as a field); what
    /// follows a field is checked by the next key's space or, after a3, by `mayEnd`, where a
    /// third digit fails. Any other tail goes to `fieldTail` (same values where both answer).
    @inline(__always)
    static func smallFields(_ l: TraceLineBytes, from e0: Int) -> (count: UInt64, attributes: UInt64, end: Int)? {
        let n = l.count
        var count: UInt64 = 0, attributes: UInt64 = 0, end = e0
        var key: UInt64 = 0x7830_2031_6120  // " a1 0x"
        var small = e0 &+ 24 <= l.readable
        var k = 0
        while small && k < 3 {
            let w = l.word(at: end)
            guard end &+ 7 <= n, w & 0xffff_ffff_ffff == key,
                  let d0 = hexDigit(UInt8(truncatingIfNeeded: w &>> 48)) else { small = false; break }
            var v = d0
            end &+= 7
            if end < n, let d1 = hexDigit(UInt8(truncatingIfNeeded: w &>> 56)) { v = v &<< 4 | d1; end &+= 1 }
            if k == 0 { count = v } else if k == 1 { attributes = v }
            key &+= 0x1_0000
            k &+= 1
        }
        if small {
            end = pastBlanks(l, from: end)
            if mayEnd(l, at: end) { return (count, attributes, end) }
        }
        return fieldTail(l, at: e0)
    }

    /// The line's first `[` and timestamp start: from a kept prefix the line starts with
    /// (`known`: its pid check passed too), else read column by column.
    @inline(__always)
    func fastPrefix(_ l: TraceLineBytes) -> (open: Int, timestampStart: Int, known: Bool)? {
        if let (open, start) = fastPrefixes.match(l) { return (open, start, true) }
        guard let open = Self.firstBracket(l), l.base[open &- 1] == TraceASCII.space,
              let start = Self.timestampStart(l, open: open) else { return nil }
        return (open, start, false)
    }

    /// Past the ` [NNN] ` cpu column right at the first `[` (else the per-event path searches
    /// further: up to five digits, then `] `, within one word) and the flags column if there is
    /// one (up to 8 bytes, then a space): where the timestamp should start.
    @inline(__always)
    static func timestampStart(_ l: TraceLineBytes, open: Int) -> Int? {
        let n = l.count
        let p = l.base
        var i = open &+ 1
        guard i &+ 8 <= l.readable else { return nil }
        let cpuWord = l.word(at: i)
        let cpuDigits = Self.leadingDecimalDigits(cpuWord)
        guard cpuDigits > 0, cpuDigits <= 5, i &+ cpuDigits &+ 2 <= n,
              (cpuWord &>> UInt64(8 &* cpuDigits)) & 0xffff == 0x205d else { return nil }  // "] "
        i &+= cpuDigits &+ 2
        while i < n && p[i] == TraceASCII.space { i &+= 1 }
        if i < n && p[i] &- TraceASCII.zero >= 10 {  // flags / latency column
            guard i &+ 8 <= l.readable else { return nil }
            let flagsEnd = i &+ Self.firstControlOrSpace(l.word(at: i))
            guard flagsEnd < n, p[flagsEnd] == TraceASCII.space else { return nil }
            i = flagsEnd &+ 1
            while i < n && p[i] == TraceASCII.space { i &+= 1 }
        }
        return i
    }

    /// The first `[` after the line's first byte, eight bytes at a time (a comm is short); nil
    /// when a newline comes first (the line has no `[`) or neither is within `l.count`.
    @inline(__always)
    static func firstBracket(_ l: TraceLineBytes) -> Int? {
        var i = 1
        let ones: UInt64 = 0x0101_0101_0101_0101
        while i &+ 8 <= l.count {
            let w = l.word(at: i)
            let b = w ^ (ones &* UInt64(TraceASCII.openBracket))
            let nl = w ^ (ones &* UInt64(TraceASCII.newline))
            // The lowest zero byte of either is exact (a borrow only reaches bytes above it).
            let hit = ((b &- ones) & ~b | (nl &- ones) & ~nl) & 0x8080_8080_8080_8080
            if hit != 0 {
                let k = i &+ hit.trailingZeroBitCount &>> 3
                return l[k] == TraceASCII.openBracket ? k : nil
            }
            i &+= 8
        }
        while i < l.count {
            let c = l[i]
            if c == TraceASCII.openBracket { return i }
            if c == TraceASCII.newline { return nil }
            i &+= 1
        }
        return nil
    }

    /// How many of the eight bytes (first byte first) are decimal digits before the first that is not.
    @inline(__always)
    static func leadingDecimalDigits(_ w: UInt64) -> Int {
        let x = w ^ 0x3030_3030_3030_3030
        // As in `decimalWord`: a carry out of a non-digit byte only reaches later bytes.
        let notDigit = ((x &+ 0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080
        return notDigit.trailingZeroBitCount &>> 3
    }

    /// The index in eight bytes (first byte first) of the first byte <= 0x20 (space, tab, CR,
    /// newline, other control bytes), 8 when there is none.
    @inline(__always)
    static func firstControlOrSpace(_ w: UInt64) -> Int {
        // b - 0x21 borrows into the high bit only for b < 0x21 (b >= 0x80 is masked by ~w); a
        // borrow only reaches bytes above the first such byte, so the lowest flag is exact.
        let flags = (w &- 0x2121_2121_2121_2121) & ~w & 0x8080_8080_8080_8080
        return flags.trailingZeroBitCount &>> 3
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

    /// The index after `i` and the spaces and tabs there, within the line.
    @inline(__always)
    static func pastBlanks(_ l: TraceLineBytes, from i: Int) -> Int {
        var i = i
        while i < l.count && (l[i] == TraceASCII.space || l[i] == TraceASCII.tab) { i &+= 1 }
        return i
    }

    /// Whether the line may end at `i`: its end, or a newline or CR there (the caller checks which).
    @inline(__always)
    static func mayEnd(_ l: TraceLineBytes, at i: Int) -> Bool {
        i == l.count || l[i] == TraceASCII.newline || l[i] == TraceASCII.cr
    }

    /// ` a1 0x<hex> a2 0x<hex> a3 0x<hex>` at `i`, 1-16 lower-case digits each, then blanks up to
    /// where the line may end: count, attributes, end. Out of line: only unusual tails get here.
    @inline(never)
    static func fieldTail(_ l: TraceLineBytes, at i: Int) -> (count: UInt64, attributes: UInt64, end: Int)? {
        guard let (c, e1) = field(l, key: 0x7830_2031_6120, at: i),
              let (a, e2) = field(l, key: 0x7830_2032_6120, at: e1),
              let (_, e3) = field(l, key: 0x7830_2033_6120, at: e2) else { return nil }
        let end = pastBlanks(l, from: e3)
        guard mayEnd(l, at: end) else { return nil }
        return (c, a, end)
    }

    /// ` aK 0x<1-16 lower-case hex digits>` at `i`, `key` being the six bytes ` aK 0x`.
    static func field(_ l: TraceLineBytes, key: UInt64, at i: Int) -> (UInt64, Int)? {
        guard i &+ 6 <= l.count, i &+ 8 <= l.readable, l.word(at: i) & 0xffff_ffff_ffff == key else { return nil }
        return l.hex16(at: i &+ 6)
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
        if j >= 7 {
            // The eight bytes ending at j, j's in the top byte: digits counted from the top. A
            // carry can only mark the lowest digit of a run above a non-digit as not one, so
            // 1-7 counted means 1-8 there: a pid below Int32.max.
            let counted = leadingDecimalDigitsFromTop(l.word(at: j &- 7))
            if counted > 0 && counted < 8 { return true }
        }
        let digitsEnd = j &+ 1
        while j >= 0 && l[j] &- TraceASCII.zero < 10 { j &-= 1 }
        let digits = digitsEnd &- j &- 1
        if digits <= 0 || digits > 10 { return false }
        if digits < 10 { return true }
        var pid: UInt64 = 0
        for k in (j &+ 1)..<digitsEnd { pid = pid &* 10 &+ UInt64(l[k] &- TraceASCII.zero) }
        return pid <= UInt64(Int32.max)
    }

    /// How many of the eight bytes, from the last (the top byte) down, are decimal digits; may
    /// count one less than there are when the byte below the run is 0x8a or above (see `hasPid`).
    @inline(__always)
    static func leadingDecimalDigitsFromTop(_ w: UInt64) -> Int {
        let x = w ^ 0x3030_3030_3030_3030
        let notDigit = ((x &+ 0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080
        return notDigit.leadingZeroBitCount &>> 3
    }
}

/// Whole seconds of a timestamp as the fast path last read them: the digits and the dot after
/// them as bytes (`mask` covers `digits` + 1 bytes, at most 8), and their value.
struct FastSeconds: Sendable {
    let text: UInt64
    let mask: UInt64
    let digits: Int
    let value: UInt64

    /// The digits and dot at the start of `word` (first byte first), `digits` of them (1...7).
    init(_ word: UInt64, digits: Int, value: UInt64) {
        mask = ~UInt64(0) &>> UInt64(64 &- 8 &* (digits &+ 1))
        text = word & mask
        self.digits = digits
        self.value = value
    }

    /// `0.`: a true reading to start from (`digits` is never 0, so the compare always covers a digit).
    static let zero = FastSeconds(0x2e30, digits: 1, value: 0)
}
