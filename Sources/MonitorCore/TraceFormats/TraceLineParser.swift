/// What one line of trace text turned into.
public enum TraceLineOutcome: Sendable, Hashable {
    case event(MonitorEvent)
    /// Header, comment, blank line, another kvm event, any other text.
    case skipped
    /// The second QEMU line of a conversion already counted (`kvm_convert_memory` right after its
    /// `kvm_hc_map_gpa_range`).
    case duplicate
    /// The line starts like a supported event but cannot be parsed.
    case malformed(reason: String)
}

/// Turns lines of any supported trace text into `MonitorEvent`s, detecting the format per line.
///
/// Formats (the reference's sections in brackets):
/// - ftrace `trace` / `trace_pipe` text, `trace-cmd report` and `perf script` text [§6, §7]:
///   `kvm_hypercall`, `kvm_vmgexit_msr_protocol_enter` (PSC request 0x014 only), the uprobe stand-in
///   (`(0x…) nr=12 a0=… a1=… a2=… a3=…` under any event name), `CPU:N [LOST n EVENTS]` and
///   `CPU:N [n EVENTS DROPPED]`.
/// - the 2020-21 SEV live-migration kernel log line `page_enc_status_hc invoked, …` [§11].
/// - QEMU trace-log `kvm_hc_map_gpa_range` / `kvm_convert_memory`, one conversion counted once [§12].
/// - encmon recordings, from their header line on (`RecordingFormat`).
///
/// The parser keeps a little state between lines: the last timestamp (for lines without one), the
/// QEMU line awaiting its duplicate, and whether a recording header was seen. The hot path (an
/// ftrace `kvm_hypercall` line) allocates nothing.
public struct TraceLineParser: Sendable {
    /// The time of the last line that carried a valid timestamp (0 before the first).
    public internal(set) var lastTime: EventTime = 0
    /// True after a `encmon-recording 1` header: record lines are then read as recording records.
    public internal(set) var isReadingRecording = false

    /// A QEMU `kvm_hc_map_gpa_range` that became a conversion; the next event line, if it is the
    /// matching `kvm_convert_memory`, is the same conversion.
    var pendingQEMU: QEMUConversionKey?
    var setPendingThisLine = false

    public init() {}

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
        pendingQEMU = nil
        return e
    }

    @inline(__always)
    mutating func parse(_ l: TraceLineBytes, endsWithNewline: Bool, triedFastPath: Bool = false) -> TraceLineOutcome {
        setPendingThisLine = false
        let outcome = dispatch(l, endsWithNewline: endsWithNewline, triedFastPath: triedFastPath)
        if pendingQEMU != nil && !setPendingThisLine {
            switch outcome {
            case .event, .malformed: pendingQEMU = nil
            case .skipped, .duplicate: break
            }
        }
        return outcome
    }

    @inline(__always)
    mutating func dispatch(_ l: TraceLineBytes, endsWithNewline: Bool, triedFastPath: Bool) -> TraceLineOutcome {
        let c0 = l[0]
        if c0 == TraceASCII.hash { return .skipped }
        if isReadingRecording || c0 == UInt8(ascii: "e") {
            if let o = recordingLine(l, endsWithNewline: endsWithNewline) { return o }
        }
        if let anchor = Self.ftraceAnchor(l) { return ftraceLine(l, anchor: anchor, triedFastPath: triedFastPath) }
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

    enum TraceEventKind { case hypercall, msrProtocol }

    mutating func ftraceLine(_ l: TraceLineBytes, anchor: (open: Int, after: Int), triedFastPath: Bool = false) -> TraceLineOutcome {
        if !triedFastPath, let fast = fastHypercall(l, anchor: anchor) { return .event(fast) }
        let n = l.count
        // Optional flags / latency column, then the time token ending in ':'.
        var i = l.skipSpaces(from: anchor.after)
        var ts = i
        var te = l.scanToSpace(from: i)
        if te == ts { return brokenLayout(l) }
        if l[te - 1] != TraceASCII.colon {
            i = l.skipSpaces(from: te)
            ts = i
            te = l.scanToSpace(from: i)
            if te == ts || l[te - 1] != TraceASCII.colon { return brokenLayout(l) }
        }
        let time = l.time(from: ts, to: te - 1)
        if let time { lastTime = time }

        // Event name up to ": " (perf prefixes "sys:"; trace-cmd pads with spaces after the colon).
        i = l.skipSpaces(from: te)
        var nameStart = i
        var nameEnd = -1
        while i < n {
            let c = l[i]
            if c == TraceASCII.colon {
                if i + 1 == n || l[i + 1] == TraceASCII.space { nameEnd = i; break }
                nameStart = i + 1
            } else if c == TraceASCII.space {
                break
            }
            i += 1
        }
        if nameEnd < 0 { return brokenLayout(l) }
        let payload = l.skipSpaces(from: nameEnd + 1)

        let kind: TraceEventKind
        if l.equals("kvm_hypercall", from: nameStart, to: nameEnd) {
            kind = .hypercall
        } else if l.equals("kvm_vmgexit_msr_protocol_enter", from: nameStart, to: nameEnd) {
            kind = .msrProtocol
        } else if let p = Self.uprobeFields(l, payload: payload) {
            return uprobeLine(l, anchor: anchor, fields: p, time: time)
        } else {
            return .skipped
        }
        guard let time else { return .malformed(reason: "bad timestamp") }
        guard let (pid, vcpu) = Self.pidAndVcpu(l, anchorOpen: anchor.open) else {
            return .malformed(reason: "no pid before the cpu column")
        }
        switch kind {
        case .hypercall: return hypercall(l, payload: payload, time: time, pid: pid, vcpu: vcpu)
        case .msrProtocol: return msrProtocol(l, payload: payload, time: time, pid: pid)
        }
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
        }
        guard digits <= 15, i &+ 16 < n, p[i] == TraceASCII.colon, p[i &+ 1] == TraceASCII.space else { return nil }
        i &+= 2
        while i < n && p[i] == TraceASCII.space { i &+= 1 }
        // "kvm_hypercall: " or perf's "kvm:kvm_hypercall: "
        guard i &+ 16 <= n else { return nil }
        let w0 = l.word(at: i), w1 = l.word(at: i &+ 8)
        if w0 == 0x6570_7968_5f6d_766b && w1 & 0x00ff_ffff_ffff_ffff == 0x20_3a6c_6c61_6372 {  // "kvm_hype" "rcall: "
            i &+= 15
        } else if w0 == 0x5f6d_766b_3a6d_766b && w1 == 0x6c61_6372_6570_7968 && l.has("l: ", at: i &+ 16) {  // "kvm:kvm_" "hypercal"
            i &+= 19
        } else {
            return nil
        }
        while i < n && p[i] == TraceASCII.space { i &+= 1 }
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

    /// An ftrace-shaped line whose columns after the cpu do not parse.
    func brokenLayout(_ l: TraceLineBytes) -> TraceLineOutcome {
        Self.mentionsSupportedEvent(l) ? .malformed(reason: "unrecognised column layout") : .skipped
    }

    /// pid: the digits before the cpu column, after the comm and `-` (ftrace, trace-cmd) or spaces
    /// (perf), skipping a TGID `(  1234)` / `(-------)`; perf's `pid/tid` gives the tid.
    /// vcpu: n from a comm `CPU n/KVM`, else -1.
    @inline(__always)
    static func pidAndVcpu(_ l: TraceLineBytes, anchorOpen: Int) -> (Int32, Int32)? {
        var j = anchorOpen &- 1
        while j >= 0 && l[j] == TraceASCII.space { j &-= 1 }
        if j >= 0 && l[j] == TraceASCII.closeParen {
            while j >= 0 && l[j] != TraceASCII.openParen { j &-= 1 }
            j &-= 1
            while j >= 0 && l[j] == TraceASCII.space { j &-= 1 }
        }
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
              l[e &- 2] == UInt8(ascii: "V"), l[e &- 1] == UInt8(ascii: "M") else { return -1 }
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

    /// `nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx` (arch/x86/kvm/trace.h).
    @inline(__always)
    func hypercall(_ l: TraceLineBytes, payload: Int, time: EventTime, pid: Int32, vcpu: Int32) -> TraceLineOutcome {
        guard let (nr, e0) = Self.hexField(l, "nr ", at: payload) else { return .malformed(reason: "kvm_hypercall: bad or missing nr") }
        guard let (a0, e1) = Self.hexField(l, "a0 ", at: e0) else { return .malformed(reason: "kvm_hypercall: bad or missing a0") }
        guard let (a1, e2) = Self.hexField(l, "a1 ", at: e1) else { return .malformed(reason: "kvm_hypercall: bad or missing a1") }
        guard let (a2, e3) = Self.hexField(l, "a2 ", at: e2) else { return .malformed(reason: "kvm_hypercall: bad or missing a2") }
        guard let (_, e4) = Self.hexField(l, "a3 ", at: e3) else { return .malformed(reason: "kvm_hypercall: bad or missing a3") }
        guard l.onlyBlanks(from: e4) else { return .malformed(reason: "kvm_hypercall: unexpected text after a3") }
        if nr != MapGPARangeRequest.hypercallNumber { return .event(.otherHypercall(time: time, number: nr)) }
        return .event(MapGPARangeRequest(gpa: a0, pageCount: a1, attributes: a2)
            .event(time: time, vcpu: vcpu, pid: pid, path: .hypercall))
    }

    /// ` key 0x<hex>` at `i` (spaces before the key skipped); the value must end the field.
    @inline(__always)
    static func hexField(_ l: TraceLineBytes, _ key: StaticString, at i: Int) -> (UInt64, Int)? {
        let k = l.skipSpaces(from: i)
        guard l.has(key, at: k) else { return nil }
        guard let (v, e) = l.hex0x(at: l.skipSpaces(from: k + key.utf8CodeUnitCount)), l.endsField(e) else { return nil }
        return (v, e)
    }

    /// `vcpu %u, ghcb_gpa %016llx` — GHCB MSR protocol request (arch/x86/include/asm/sev-common.h).
    func msrProtocol(_ l: TraceLineBytes, payload: Int, time: EventTime, pid: Int32) -> TraceLineOutcome {
        guard l.has("vcpu ", at: payload), let (vcpu, e0) = l.decimal(at: l.skipSpaces(from: payload + 5)),
              vcpu <= UInt64(Int32.max), e0 < l.count, l[e0] == TraceASCII.comma else {
            return .malformed(reason: "kvm_vmgexit_msr_protocol_enter: bad or missing vcpu")
        }
        let k = l.skipSpaces(from: e0 + 1)
        guard l.has("ghcb_gpa ", at: k), let (msr, e1) = l.hex(at: l.skipSpaces(from: k + 9)), l.onlyBlanks(from: e1) else {
            return .malformed(reason: "kvm_vmgexit_msr_protocol_enter: bad or missing ghcb_gpa")
        }
        guard let (gfn, toPrivate) = Self.pageStateChange(msr) else { return .skipped }
        return .event(MapGPARangeRequest(gpa: gfn << GuestPage.shift, pageCount: 1,
                                         attributes: toPrivate ? MapGPARangeRequest.encryptedBit : 0)
            .event(time: time, vcpu: Int32(vcpu), pid: pid, path: .pageStateChange))
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

    /// The uprobe stand-in's payload: optional `(0x…)` probe address, then `nr=`. Returns the index
    /// of `nr=`, or nil when the payload is something else.
    @inline(__always)
    static func uprobeFields(_ l: TraceLineBytes, payload: Int) -> Int? {
        var i = payload
        if i < l.count && l[i] == TraceASCII.openParen {
            guard let close = l.find(TraceASCII.closeParen, from: i) else { return nil }
            i = l.skipSpaces(from: close + 1)
        }
        return l.has("nr=", at: i) ? i : nil
    }

    mutating func uprobeLine(_ l: TraceLineBytes, anchor: (open: Int, after: Int), fields: Int, time: EventTime?) -> TraceLineOutcome {
        guard let time else { return .malformed(reason: "bad timestamp") }
        guard let (pid, vcpu) = Self.pidAndVcpu(l, anchorOpen: anchor.open) else {
            return .malformed(reason: "no pid before the cpu column")
        }
        // Fields after a3 (a probe may fetch more) are ignored.
        guard let (nr, e0) = Self.numberField(l, "nr=", at: fields) else { return .malformed(reason: "probe event: bad or missing nr=") }
        guard let (a0, e1) = Self.numberField(l, "a0=", at: e0) else { return .malformed(reason: "probe event: bad or missing a0=") }
        guard let (a1, e2) = Self.numberField(l, "a1=", at: e1) else { return .malformed(reason: "probe event: bad or missing a1=") }
        guard let (a2, e3) = Self.numberField(l, "a2=", at: e2) else { return .malformed(reason: "probe event: bad or missing a2=") }
        guard Self.numberField(l, "a3=", at: e3) != nil else { return .malformed(reason: "probe event: bad or missing a3=") }
        if nr != MapGPARangeRequest.hypercallNumber { return .event(.otherHypercall(time: time, number: nr)) }
        return .event(MapGPARangeRequest(gpa: a0, pageCount: a1, attributes: a2)
            .event(time: time, vcpu: vcpu, pid: pid, path: .hypercall))
    }

    /// `key=<decimal or 0x-hex>` at `i` (spaces before the key skipped).
    static func numberField(_ l: TraceLineBytes, _ key: StaticString, at i: Int) -> (UInt64, Int)? {
        let k = l.skipSpaces(from: i)
        guard l.has(key, at: k), let (v, e) = l.number(at: k + key.utf8CodeUnitCount), l.endsField(e) else { return nil }
        return (v, e)
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
        let s = l.skipSpaces(from: 0)
        if l.has("CPU:", at: s), let o = lostEventsLine(l, at: s + 4) { return o }
        if let k = l.find("kvm_hc_map_gpa_range") { return qemuMapGPARange(l, at: k) }
        if let k = l.find("kvm_convert_memory") { return qemuConvertMemory(l, at: k) }
        if let k = l.find("page_enc_status_hc") { return pageEncStatus(l, at: k) }
        noteQEMUPrefixTime(l)
        return .skipped
    }

    /// `CPU:%d [LOST %lu EVENTS]` (ftrace), `CPU:%d [%lld EVENTS DROPPED]` / `CPU:%d [EVENTS DROPPED]`
    /// (trace-cmd). An unknown count is reported as 0. nil when the line is something else.
    mutating func lostEventsLine(_ l: TraceLineBytes, at i: Int) -> TraceLineOutcome? {
        guard let (_, e) = l.decimal(at: i), l.has(" [", at: e) else { return nil }
        let j = e + 2
        if l.has("LOST", at: j) {
            guard let (n, e2) = l.decimal(at: l.skipSpaces(from: j + 4)), l.has(" EVENTS]", at: e2),
                  l.onlyBlanks(from: e2 + 8) else { return .malformed(reason: "bad LOST EVENTS line") }
            return .event(.lostEvents(time: lastTime, count: n))
        }
        if l.has("EVENTS DROPPED]", at: j) {
            return .event(.lostEvents(time: lastTime, count: 0))
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

