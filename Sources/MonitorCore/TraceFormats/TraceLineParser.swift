/// What one line of trace text turned into.
public enum TraceLineOutcome: Sendable, Hashable {
    case event(MonitorEvent)
    /// Header, comment, blank line, another kvm event, any other text.
    case skipped
    /// The second QEMU line of a conversion already counted (the `kvm_convert_memory` of a
    /// `kvm_hc_map_gpa_range` or `kvm_memory_fault` on the same thread).
    case duplicate
    /// The line starts like a supported event but cannot be parsed.
    case malformed(reason: String)
}

/// Turns lines of any supported trace text into `MonitorEvent`s, detecting the format per line.
///
/// Formats (the reference's sections in brackets):
/// - ftrace `trace` / `trace_pipe` text, `trace-cmd report` and `perf script` text in every layout
///   (`TracerEventLine.swift`) [§6, §7]: `kvm_hypercall`, `kvm_vmgexit_msr_protocol_enter` (PSC
///   request 0x014 only), `kvm_xen_hypercall` / `kvm_hv_hypercall` (other hypercalls), the uprobe
///   stand-in (`nr=12 a0=… a1=… a2=… a3=…` under any event name or the `--event` name), and the
///   loss lines `CPU:N [LOST n EVENTS]`, `CPU:N [LOST EVENTS]`, `CPU:N [n EVENTS DROPPED]`,
///   `CPU:N [EVENTS DROPPED]` (also after a trace-cmd instance tag).
/// - the 2020-21 SEV live-migration kernel log line `page_enc_status_hc invoked, …` [§11].
/// - QEMU trace-log `kvm_hc_map_gpa_range` / `kvm_convert_memory`, one conversion counted once [§12].
/// - encmon recordings, from their header line on (`RecordingFormat`).
///
/// The parser keeps a little state between lines: the last timestamp (for lines without one), the
/// QEMU conversions awaiting their duplicate line, whether times are seconds, and whether a
/// recording header was seen. The hot path (an
/// ftrace `kvm_hypercall` line) allocates nothing.
public struct TraceLineParser: Sendable {
    /// The time of the last line that carried a valid timestamp (0 before the first).
    public internal(set) var lastTime: EventTime = 0
    /// True after a `encmon-recording 1` header: record lines are then read as recording records.
    public internal(set) var isReadingRecording = false

    /// Per QEMU thread, the `kvm_hc_map_gpa_range` or `kvm_memory_fault` that became a conversion:
    /// that thread's matching `kvm_convert_memory` is the same conversion, however many lines of
    /// other threads come between.
    var pendingQEMU: [Int32: QEMUConversionKey] = [:]
    /// The same for lines without a thread id, paired by content alone (oldest first, bounded).
    var pendingUnthreadedQEMU: [QEMUConversionKey] = []

    /// An event line carried an integer timestamp (trace clocks counter, uptime, x86-tsc, perf
    /// or trace-cmd without a seconds clock): times are ticks of an unknown unit, not seconds.
    public internal(set) var sawRawClockTimestamps = false
    /// An event line carried no timestamp at all (perf script -F without `time`).
    public internal(set) var sawUntimedEvents = false
    /// True when some event time is not in seconds: rates are then per unknown unit.
    public var timeUnitUnknown: Bool { sawRawClockTimestamps || sawUntimedEvents }
    /// The stand-in event named by `--event` (its lines decode like `kvm_hypercall`).
    public var standInEvent: TraceEventName?
    /// The fast path's last timestamp as digits (ticks of 10^-digits s) and its value: lines
    /// that repeat it skip the division.
    var fastTime: EventTime = 0
    var fastTimeTicks: UInt64 = .max
    var fastTimeDigits = -1
    /// The fast path's last whole seconds with their dot (`9051.`): lines within the same second
    /// compare one masked word instead of reading the digits.
    var fastSeconds = FastSeconds.zero
    /// The line prefixes the fast path has read (see `FastLinePrefixes`).
    var fastPrefixes = FastLinePrefixes()

    public init(standInEvent: TraceEventName? = nil) { self.standInEvent = standInEvent }

    /// Parses one line (without its newline; a trailing CR is ignored). `endsWithNewline` is false
    /// for a last line cut off by the end of the file: a recording record without its newline is
    /// a partial write and malformed.
    public mutating func parse(_ line: UnsafeBufferPointer<UInt8>, endsWithNewline: Bool = true) -> TraceLineOutcome {
        guard let base = line.baseAddress, line.count > 0 else { return .skipped }
        var n = line.count
        if base[n - 1] == TraceASCII.cr { n -= 1 }
        if n == 0 { return .skipped }
        return parse(TraceLineBytes(base: base, count: n), endsWithNewline: endsWithNewline)
    }

    /// Convenience for tests and small inputs.
    public mutating func parse(_ line: String, endsWithNewline: Bool = true) -> TraceLineOutcome {
        var s = line
        return s.withUTF8 { parse($0, endsWithNewline: endsWithNewline) }
    }

    /// The reader's first try for every line: an ftrace `kvm_hypercall` line straight to its event,
    /// without the outcome wrapper. nil: call `parse(_:endsWithNewline:triedFastPath:)`.
    @inline(__always)
    mutating func fastEvent(_ l: TraceLineBytes) -> MonitorEvent? {
        guard !isReadingRecording, l[0] != TraceASCII.hash, let anchor = Self.ftraceAnchor(l),
              let e = fastHypercall(l, anchor: anchor) else { return nil }
        return e
    }

    @inline(__always)
    mutating func parse(_ l: TraceLineBytes, endsWithNewline: Bool, triedFastPath: Bool = false) -> TraceLineOutcome {
        dispatch(l, endsWithNewline: endsWithNewline, triedFastPath: triedFastPath)
    }

    @inline(__always)
    mutating func dispatch(_ l: TraceLineBytes, endsWithNewline: Bool, triedFastPath: Bool) -> TraceLineOutcome {
        let c0 = l[0]
        if c0 == TraceASCII.hash { return .skipped }
        if isReadingRecording || c0 == UInt8(ascii: "e") {
            if let o = recordingLine(l, endsWithNewline: endsWithNewline) { return o }
        }
        if !triedFastPath, let anchor = Self.ftraceAnchor(l), let e = fastHypercall(l, anchor: anchor) { return .event(e) }
        if let columns = tracerEvent(l), columns.kind != .other || columns.isTracerLine {
            return tracerLine(l, columns: columns)
        }
        return otherLine(l)
    }

    // MARK: recordings

    mutating func recordingLine(_ l: TraceLineBytes, endsWithNewline: Bool) -> TraceLineOutcome? {
        if l.has("encmon-recording", at: 0) {
            let rest = RecordingFormat.trimmingBlanks(l.text(from: 16))
            if rest == String(RecordingFormat.version) {
                isReadingRecording = true
                return .skipped
            }
            if l.count == 16 || l[16] == TraceASCII.space {
                return .malformed(reason: "unsupported recording version '\(rest)' (this encmon reads \(RecordingFormat.version))")
            }
            return nil
        }
        guard isReadingRecording else { return nil }
        let tokenEnd = l.scanToSpace(from: 0)
        guard RecordingFormat.RecordType(rawValue: l.text(from: 0, to: tokenEnd)) != nil else { return nil }
        if !endsWithNewline {
            return .malformed(reason: "truncated record (no newline at the end of the file)")
        }
        switch RecordingFormat.decodeResult(l.text()) {
        case .success(let e):
            lastTime = e.time
            return .event(e)
        case .failure(let error):
            return .malformed(reason: error.description)
        }
    }

    // MARK: ftrace, trace-cmd report, perf script

    /// The ` [NNN] ` cpu column: the index of `[` and the index after `] `.
    @inline(__always)
    static func ftraceAnchor(_ l: TraceLineBytes) -> (open: Int, after: Int)? {
        var from = 1
        while let i = l.find(TraceASCII.openBracket, from: from) {
            if l[i - 1] == TraceASCII.space {
                var j = i + 1
                while j < l.count && l[j] &- TraceASCII.zero < 10 { j += 1 }
                if j > i + 1 && j + 1 < l.count && l[j] == TraceASCII.closeBracket && l[j + 1] == TraceASCII.space {
                    return (i, j + 2)
                }
            }
            from = i + 1
        }
        return nil
    }

    /// The common case in one pass: a well-formed `kvm_hypercall` line of ftrace, trace-cmd or
    /// perf with single spaces in the payload, hex values of at most 16 digits and a timestamp of
    /// at most 15 digits. nil as soon as anything differs: the general path then decides, so this
    /// only has to be right when it answers.
    @inline(__always)
    mutating func fastHypercall(_ l: TraceLineBytes, anchor: (open: Int, after: Int)) -> MonitorEvent? {
        let n = l.count
        let p = l.base
        var i = anchor.after
        while i < n && p[i] == TraceASCII.space { i &+= 1 }
        if i < n && p[i] &- TraceASCII.zero >= 10 {  // flags / latency column
            while i < n && p[i] != TraceASCII.space { i &+= 1 }
            while i < n && p[i] == TraceASCII.space { i &+= 1 }
        }
        // sec[.frac] as one integer and a power of ten: exact below 2^53 (15 digits).
        let ts = i
        var total: UInt64 = 0
        var scale: UInt64 = 1
        while i < n {
            let d = p[i] &- TraceASCII.zero
            if d >= 10 { break }
            total = total &* 10 &+ UInt64(d)
            i &+= 1
        }
        if i == ts { return nil }
        var digits = i &- ts
        if i < n && p[i] == TraceASCII.dot {
            i &+= 1
            let fs = i
            while i < n {
                let d = p[i] &- TraceASCII.zero
                if d >= 10 { break }
                total = total &* 10 &+ UInt64(d)
                scale &*= 10
                i &+= 1
            }
            if i == fs { return nil }
            digits &+= i &- fs
        } else {
            return nil  // counter clocks: the general path notes the unknown unit
        }
        guard digits <= 15, i &+ 16 < n, p[i] == TraceASCII.colon, p[i &+ 1] == TraceASCII.space else { return nil }
        guard let afterName = l.indexPastHypercallName(from: i &+ 2) else { return nil }
        i = afterName
        // "nr 0x<hex>" then " aK 0x<hex>" for K = 0...3
        guard i &+ 8 <= n, l.word(at: i) & 0xff_ffff_ffff == 0x78_3020_726e else { return nil }
        i &+= 5
        var values: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        for k in 0..<5 {
            if k > 0 {
                let key: UInt64 = 0x7830_2030_6120 &+ (UInt64(k &- 1) << 16)  // " aK 0x"
                if i &+ 8 <= n {
                    guard l.word(at: i) & 0xffff_ffff_ffff == key else { return nil }
                } else {
                    guard i &+ 6 <= n else { return nil }
                    for b in 0..<6 where p[i &+ b] != UInt8(truncatingIfNeeded: key >> (8 * UInt64(b))) { return nil }
                }
                i &+= 6
            }
            guard let (v, e) = l.hex16(at: i) else { return nil }
            i = e
            switch k {
            case 0: values.0 = v
            case 1: values.1 = v
            case 2: values.2 = v
            case 3: values.3 = v
            default: values.4 = v
            }
        }
        guard i == n || l.onlyBlanks(from: i) else { return nil }
        guard let (pid, vcpu) = Self.pidAndVcpu(l, anchorOpen: anchor.open) else { return nil }
        let time = Double(total) / Double(scale)
        lastTime = time
        if values.0 != MapGPARangeRequest.hypercallNumber { return .otherHypercall(time: time, number: values.0) }
        return MapGPARangeRequest(gpa: values.1, pageCount: values.2, attributes: values.3)
            .event(time: time, vcpu: vcpu, pid: pid, path: .hypercall)
    }

    /// Where the pid's last digit should be: before the cpu column at `anchorOpen`, its blanks
    /// and an optional TGID `(…)` skipped (-1 when nothing is left).
    @inline(__always)
    static func lastPidDigit(_ l: TraceLineBytes, anchorOpen: Int) -> Int {
        var j = anchorOpen &- 1
        while j >= 0 && l[j] == TraceASCII.space { j &-= 1 }
        if j >= 0 && l[j] == TraceASCII.closeParen {
            while j >= 0 && l[j] != TraceASCII.openParen { j &-= 1 }
            j &-= 1
            while j >= 0 && l[j] == TraceASCII.space { j &-= 1 }
        }
        return j
    }

    /// pid: the digits before the cpu column, after the comm and `-` (ftrace, trace-cmd) or spaces
    /// (perf), skipping a TGID `(  1234)` / `(-------)`; perf's `pid/tid` gives the tid.
    /// vcpu: n from a comm `CPU n/KVM`, else -1.
    @inline(__always)
    static func pidAndVcpu(_ l: TraceLineBytes, anchorOpen: Int) -> (Int32, Int32)? {
        var j = lastPidDigit(l, anchorOpen: anchorOpen)
        // Digits right to left, at most 10 (pid_t).
        let digitsEnd = j &+ 1
        var pid: UInt64 = 0
        var scale: UInt64 = 1
        while j >= 0 {
            let d = l[j] &- TraceASCII.zero
            if d >= 10 { break }
            pid &+= UInt64(d) &* scale
            scale &*= 10
            j &-= 1
        }
        let digits = digitsEnd &- j &- 1
        guard digits > 0, digits <= 10, pid <= UInt64(Int32.max) else { return nil }
        // Comm ends before the '-' (ftrace) or the blanks (perf); perf's "pid/tid" has more digits.
        var commEnd: Int
        if j >= 0 && l[j] == TraceASCII.dash {
            commEnd = j
        } else {
            if j >= 0 && l[j] == TraceASCII.slash {
                j &-= 1
                while j >= 0 && l[j] &- TraceASCII.zero < 10 { j &-= 1 }
            }
            while j >= 0 && l[j] == TraceASCII.space { j &-= 1 }
            commEnd = j &+ 1
        }
        return (Int32(pid), vcpuFromComm(l, end: commEnd))
    }

    /// QEMU names vCPU threads `CPU %d/KVM` (accel/kvm/kvm-accel-ops.c): the comm ending at `e`
    /// must be exactly that, after the line start or padding blanks.
    @inline(__always)
    static func vcpuFromComm(_ l: TraceLineBytes, end e: Int) -> Int32 {
        guard e >= 9, l[e &- 4] == TraceASCII.slash, l[e &- 3] == UInt8(ascii: "K"),
              l[e &- 2] == UInt8(ascii: "V"), l[e &- 1] == UInt8(ascii: "M") else { return truncatedVcpuFromComm(l, end: e) }
        var j = e &- 5
        var v: UInt64 = 0
        var scale: UInt64 = 1
        while j >= 0 {
            let d = l[j] &- TraceASCII.zero
            if d >= 10 { break }
            v &+= UInt64(d) &* scale
            scale &*= 10
            j &-= 1
        }
        let digits = e &- 5 &- j
        guard digits > 0, digits <= 9, j >= 3, l[j] == TraceASCII.space, l[j &- 1] == UInt8(ascii: "U"),
              l[j &- 2] == UInt8(ascii: "P"), l[j &- 3] == UInt8(ascii: "C"),
              j == 3 || l[j &- 4] == TraceASCII.space else { return -1 }
        return Int32(v)
    }

    /// trace-cmd `-l` prints the comm as `%8.8s`: `CPU 2/KV`, `CPU 12/K`, `CPU 123/`.
    static func truncatedVcpuFromComm(_ l: TraceLineBytes, end e: Int) -> Int32 {
        let s = e - 8
        guard s >= 0, l.has("CPU ", at: s), s == 0 || l[s - 1] == TraceASCII.space,
              let (v, d) = l.decimal(at: s + 4), d < e, l[d] == TraceASCII.slash, v <= UInt64(Int32.max) else { return -1 }
        let kvm: [UInt8] = [UInt8(ascii: "K"), UInt8(ascii: "V"), UInt8(ascii: "M")]
        for k in (d + 1)..<e where l[k] != kvm[k - d - 1] { return -1 }
        return Int32(v)
    }

    /// ` key 0x<hex>` at `i` (spaces before the key skipped); the value must end the field.
    @inline(__always)
    static func hexField(_ l: TraceLineBytes, _ key: StaticString, at i: Int) -> (UInt64, Int)? {
        let k = l.skipSpaces(from: i)
        guard l.has(key, at: k) else { return nil }
        guard let (v, e) = l.hex0x(at: l.skipSpaces(from: k + key.utf8CodeUnitCount)), l.endsField(e) else { return nil }
        return (v, e)
    }

    /// `vcpu %u, ghcb_gpa %016llx` — GHCB MSR protocol request (arch/x86/include/asm/sev-common.h);
    /// with `-R`: `vcpu_id=%u ghcb_gpa=…` (libtraceevent prints the value in the print format's
    /// base, or in decimal). Only the `_enter` event is read: `_exit` repeats the same request.
    func msrProtocol(_ l: TraceLineBytes, payload: Int, time: EventTime, pid: Int32) -> TraceLineOutcome {
        let vcpuValue: UInt64
        var i: Int
        if l.has("vcpu ", at: payload), let (v, e) = l.decimal(at: l.skipSpaces(from: payload + 5)), e < l.count, l[e] == TraceASCII.comma {
            vcpuValue = v; i = e + 1
        } else if l.has("vcpu_id=", at: payload), let (v, e) = l.decimal(at: payload + 8), l.endsField(e) {
            vcpuValue = v; i = e
        } else {
            return .malformed(reason: "kvm_vmgexit_msr_protocol_enter: bad or missing vcpu")
        }
        guard vcpuValue <= UInt64(Int32.max) else { return .malformed(reason: "kvm_vmgexit_msr_protocol_enter: vcpu out of range") }
        i = l.skipSpaces(from: i)
        let msr: UInt64
        if l.has("ghcb_gpa ", at: i), let (v, e) = l.hex(at: l.skipSpaces(from: i + 9)), l.onlyBlanks(from: e) {
            msr = v
        } else if l.has("ghcb_gpa=", at: i), let v = Self.rawGHCBValue(l, at: i + 9) {
            msr = v
        } else {
            return .malformed(reason: "kvm_vmgexit_msr_protocol_enter: bad or missing ghcb_gpa")
        }
        guard let (gfn, toPrivate) = Self.pageStateChange(msr) else { return .skipped }
        return .event(MapGPARangeRequest(gpa: gfn << GuestPage.shift, pageCount: 1,
                                         attributes: toPrivate ? MapGPARangeRequest.encryptedBit : 0)
            .event(time: time, vcpu: Int32(vcpuValue), pid: pid, path: .pageStateChange))
    }

    /// A `-R` ghcb_gpa value: `0x`-hex; the format's `%016llx` (16 digits with a leading zero: a
    /// request has bits 63:56 clear, so its hex form starts `00`, which decimal never does); or
    /// decimal.
    static func rawGHCBValue(_ l: TraceLineBytes, at i: Int) -> UInt64? {
        let e = l.scanToSpace(from: i)
        guard e > i, l.onlyBlanks(from: e) else { return nil }
        return rawGHCBValue(l, valueAt: i)
    }

    /// The value token at `i` (ending at a space, `,` or the line end) read as `rawGHCBValue` does.
    static func rawGHCBValue(_ l: TraceLineBytes, valueAt i: Int) -> UInt64? {
        var e = i
        while e < l.count && l[e] != TraceASCII.space && l[e] != TraceASCII.comma { e += 1 }
        if let (v, end) = l.hex0x(at: i), end == e { return v }
        if e - i == 16 && l[i] == TraceASCII.zero, let (v, end) = l.hex(at: i), end == e { return v }
        if let (v, end) = l.decimal(at: i), end == e { return v }
        return nil
    }

    /// GHCB_MSR_PSC_REQ (0x014): GFN in bits 51:12, operation in 55:52 (1 private, 2 shared).
    /// nil for other requests and operations.
    public static func pageStateChange(_ ghcbMSR: UInt64) -> (gfn: UInt64, toPrivate: Bool)? {
        guard ghcbMSR & 0xfff == 0x014 else { return nil }
        let gfn = (ghcbMSR >> 12) & ((1 << 40) - 1)
        switch (ghcbMSR >> 52) & 0xf {
        case 1: return (gfn, true)
        case 2: return (gfn, false)
        default: return nil
        }
    }

    /// Whether a line (or the kept start of an overlong one) names an event this parser reads, so
    /// that failing to parse it is worth reporting.
    static func mentionsSupportedEvent(_ l: TraceLineBytes) -> Bool {
        l.find("kvm_hypercall") != nil || l.find("kvm_vmgexit_msr_protocol_enter") != nil
            || l.find("page_enc_status_hc") != nil || l.find("kvm_hc_map_gpa_range") != nil
            || l.find("kvm_convert_memory") != nil || (l.find(" nr=") != nil && l.find(" a0=") != nil)
            || l.find("EVENTS]") != nil || l.find("EVENTS DROPPED]") != nil
    }

    /// Whether the start of an overlong line looks like a supported event (or a recording record,
    /// while reading a recording): such a line is malformed, any other overlong line skipped.
    func overlongLineIsMalformed(_ prefix: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let b = prefix.baseAddress, prefix.count > 0 else { return false }
        let l = TraceLineBytes(base: b, count: prefix.count)
        if isReadingRecording {
            let tokenEnd = l.scanToSpace(from: 0)
            if RecordingFormat.RecordType(rawValue: l.text(from: 0, to: tokenEnd)) != nil { return true }
        }
        return Self.mentionsSupportedEvent(l)
    }

    // MARK: lines without an ftrace cpu column

    mutating func otherLine(_ l: TraceLineBytes) -> TraceLineOutcome {
        if let o = lossLine(l) { return o }
        if let k = l.find("kvm_hc_map_gpa_range") { return qemuMapGPARange(l, at: k) }
        if let k = l.find("kvm_convert_memory") { return qemuConvertMemory(l, at: k) }
        if let k = l.find("kvm_memory_fault") { return qemuMemoryFault(l, at: k) }
        if let k = l.find("page_enc_status_hc") { return pageEncStatus(l, at: k) }
        noteQEMUPrefixTime(l)
        return .skipped
    }

    /// A loss line at the line start or after a trace-cmd `-i` instance tag (`%*s: `).
    mutating func lossLine(_ l: TraceLineBytes) -> TraceLineOutcome? {
        var s = l.skipSpaces(from: 0)
        if !l.has("CPU:", at: s) {
            guard let c = l.find(TraceASCII.colon, from: s), c + 1 < l.count, l[c + 1] == TraceASCII.space else { return nil }
            s = l.skipSpaces(from: c + 1)
            guard l.has("CPU:", at: s) else { return nil }
        }
        return lostEventsLine(l, at: s + 4)
    }

    /// `CPU:%d [LOST %lu EVENTS]` / `CPU:%d [LOST EVENTS]` (kernel/trace/trace.c, the second when
    /// the ring buffer could not count), `CPU:%d [%lld EVENTS DROPPED]` / `CPU:%d [EVENTS DROPPED]`
    /// (tracecmd/trace-read.c). An unknown count is nil. nil when the line is something else.
    mutating func lostEventsLine(_ l: TraceLineBytes, at i: Int) -> TraceLineOutcome? {
        guard let (_, e) = l.decimal(at: i), l.has(" [", at: e) else { return nil }
        let j = e + 2
        if l.has("LOST EVENTS]", at: j) && l.onlyBlanks(from: j + 12) {
            return .event(.lostEvents(time: lastTime, count: nil))
        }
        if l.has("LOST", at: j) {
            guard let (n, e2) = l.decimal(at: l.skipSpaces(from: j + 4)), l.has(" EVENTS]", at: e2),
                  l.onlyBlanks(from: e2 + 8) else { return .malformed(reason: "bad LOST EVENTS line") }
            return .event(.lostEvents(time: lastTime, count: n))
        }
        if l.has("EVENTS DROPPED]", at: j) {
            return .event(.lostEvents(time: lastTime, count: nil))
        }
        if let (n, e2) = l.decimal(at: j) {
            guard l.has(" EVENTS DROPPED]", at: e2), l.onlyBlanks(from: e2 + 16) else {
                return .malformed(reason: "bad EVENTS DROPPED line")
            }
            return .event(.lostEvents(time: lastTime, count: n))
        }
        return nil
    }
}
