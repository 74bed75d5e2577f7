/// The general path for event lines of the tracing tools, whatever columns they chose:
///
/// - ftrace `trace` / `trace_pipe` (kernel/trace/trace_output.c): `%16s-%-7d` comm-pid, optional
///   `(%7d)` TGID (`record-tgid`), `[%03d]` cpu, optional flags (`irq-info`), `%5lu.%06lu:` time or
///   `%12llu:` for counter clocks, `NAME: ` and the print format.
/// - `trace-cmd report` (tracecmd/trace-read.c): an optional `%*s: ` file or instance tag (`-i` with
///   instances, blanks for the top buffer), `%16s-%-5d [%03d]` or, with `-l`, `%8.8s-%-5d %3d` and
///   the latency flags glued to the cpu; `-0x%x` after the cpu in raw mode; `%6.1000d:` time,
///   `%9.1d:` with `-t`, `%12d:` for counter clocks; optional `(+diff)` (`--ts-diff`); ` NAME: `
///   padded to 20 columns; the print format, or `field=value` pairs with `-R`.
/// - `perf script` (tools/perf/builtin-script.c), any `-F` selection of comm, tid, pid, cpu, time,
///   event, trace: `%16s` comm, `%7d` tid or `%7d/%-7d` pid/tid, `[%03d]`, `%12s:` time (`--ns`:
///   nine digits), `SYS:NAME:` event, then the payload. Columns perf leaves out are just absent.
///
/// Fields are read by name: `nr 0xc` (print format), `nr=12` / `nr=0xc` (`-R`, probe events), and
/// a probe-address column before them: `(0x55fb…)` (kernel), `(55fb…)` (libtraceevent),
/// `__probe_ip=55fb…` (`-R`).
extension TraceLineParser {
    enum TracerEventKind {
        /// `kvm:kvm_hypercall` (arch/x86/kvm/trace.h).
        case hypercall
        /// `kvm:kvm_vmgexit_msr_protocol_enter`: SNP page-state changes through the GHCB MSR.
        case msrProtocolEnter
        /// `kvm_xen_hypercall`, `kvm_hv_hypercall` (other hypercall ABIs) and
        /// `kvm_vmgexit_msr_protocol_exit` (repeats the `_enter` request): counted as other
        /// hypercalls, never conversions.
        case lookAlike
        /// The uprobe stand-in, or the event named with `--event`: `nr`, `a0`..`a3` fields.
        case standIn
        /// Another event: skipped.
        case other
    }

    /// Where one tracer event line's parts are.
    struct TracerEventColumns {
        var kind: TracerEventKind
        /// Start of the event-name token, or of the payload when the tool printed no name.
        var headerEnd: Int
        /// Start of the event's own text (after the name and its padding).
        var payload: Int
        /// A timestamp column came before the name: surely a tracer line, even for an event
        /// this parser does not read (so no other format needs to look at it).
        var isTracerLine = false
    }

    /// The event name and payload of a tracer line, nil when the line has neither a `NAME: ` token
    /// nor a payload that is recognisably the hypercall fields.
    func tracerEvent(_ l: TraceLineBytes) -> TracerEventColumns? {
        var from = 0
        var firstToken = true
        var sawTimestamp = false
        var otherEvent: TracerEventColumns?
        while let c = l.find(TraceASCII.colon, from: from) {
            from = c + 1
            guard c + 1 == l.count || l[c + 1] == TraceASCII.space else { continue }
            var ts = c
            while ts > 0 && l[ts - 1] != TraceASCII.space { ts -= 1 }
            let leading = l.skipSpaces(from: 0) == ts
            defer { firstToken = false }
            guard ts < c else { continue }
            if Self.isTimestampToken(l, from: ts, to: c) { sawTimestamp = true; continue }
            var ns = ts  // name after a `SYS:` / `GROUP:` prefix
            for k in ts..<c where l[k] == TraceASCII.colon { ns = k + 1 }
            let payload = l.skipSpaces(from: c + 1)
            let kind = eventKind(l, token: ts, name: ns, end: c, payload: payload)
            if kind != .other { return TracerEventColumns(kind: kind, headerEnd: ts, payload: payload) }
            // The first unknown name is the event, unless it is a trace-cmd `-i` file tag or a
            // broken column before a known name later on the line.
            if otherEvent == nil && !(leading && firstToken) {
                otherEvent = TracerEventColumns(kind: .other, headerEnd: ts, payload: payload, isTracerLine: sawTimestamp)
            }
        }
        if let otherEvent { return otherEvent }
        // perf script -F without `event`: the payload alone, recognised by its fields.
        if let p = Self.namelessPayload(l) { return TracerEventColumns(kind: .standIn, headerEnd: p, payload: p) }
        if let p = Self.namelessHypercall(l) { return TracerEventColumns(kind: .hypercall, headerEnd: p, payload: p) }
        return nil
    }

    /// `123.456789` or `1234` (counter clocks) filling `start ..< end`.
    static func isTimestampToken(_ l: TraceLineBytes, from start: Int, to end: Int) -> Bool {
        var dots = 0
        for k in start..<end {
            let c = l[k]
            if c == TraceASCII.dot { dots += 1; continue }
            if c &- TraceASCII.zero >= 10 { return false }
        }
        return dots <= 1 && l[start] != TraceASCII.dot
    }

    func eventKind(_ l: TraceLineBytes, token: Int, name: Int, end: Int, payload: Int) -> TracerEventKind {
        if l.equals("kvm_hypercall", from: name, to: end) { return .hypercall }
        if l.equals("kvm_vmgexit_msr_protocol_enter", from: name, to: end) { return .msrProtocolEnter }
        if l.equals("kvm_xen_hypercall", from: name, to: end) || l.equals("kvm_hv_hypercall", from: name, to: end)
            || l.equals("kvm_vmgexit_msr_protocol_exit", from: name, to: end) {
            return .lookAlike
        }
        if let e = standInEvent, e.matches(l, token: token, name: name, end: end) { return .standIn }
        if Self.probeFields(l, payload: payload) != nil { return .standIn }
        return .other
    }

    /// The index of `nr` after an optional probe-address column: `(0x55fb…)`, `(55fb…)` or
    /// `__probe_ip=55fb…`. nil when the payload does not start with the hypercall fields.
    static func probeFields(_ l: TraceLineBytes, payload: Int) -> Int? {
        var i = payload
        if i < l.count && l[i] == TraceASCII.openParen {
            guard let close = l.find(TraceASCII.closeParen, from: i) else { return nil }
            i = l.skipSpaces(from: close + 1)
        } else if l.has("__probe_ip=", at: i) {
            i = l.skipSpaces(from: l.scanToSpace(from: i))
        }
        return l.has("nr=", at: i) ? i : nil
    }

    /// A line whose payload is the stand-in's fields without an event name before them (perf
    /// script `-F` without `event`): `(55fb…) nr=…` or `nr=…` at a token start.
    static func namelessPayload(_ l: TraceLineBytes) -> Int? {
        guard let k = l.find("nr=") else { return nil }
        guard k == 0 || l[k - 1] == TraceASCII.space else { return nil }
        var j = k
        while j > 0 && l[j - 1] == TraceASCII.space { j -= 1 }
        if j > 0 && l[j - 1] == TraceASCII.closeParen, let open = Self.lastIndex(of: TraceASCII.openParen, in: l, before: j) {
            return open
        }
        if j > 0 {  // `__probe_ip=…` right before
            var t = j
            while t > 0 && l[t - 1] != TraceASCII.space { t -= 1 }
            if l.has("__probe_ip=", at: t) { return t }
        }
        return k
    }

    /// `kvm_hypercall`'s print format without the event name (perf script -F without `event`):
    /// `nr 0x… a0 0x… a1 0x… a2 0x… a3 0x…` ending the line (`kvm_xen_hypercall` goes on to a4, a5).
    static func namelessHypercall(_ l: TraceLineBytes) -> Int? {
        guard let k = l.find("nr 0x"), k == 0 || l[k - 1] == TraceASCII.space,
              let f = hypercallFields(l, at: k), l.onlyBlanks(from: f.end) else { return nil }
        return k
    }

    static func lastIndex(of byte: UInt8, in l: TraceLineBytes, before end: Int) -> Int? {
        var i = end - 1
        while i >= 0 { if l[i] == byte { return i }; i -= 1 }
        return nil
    }

    // MARK: the columns before the event

    /// Time and pid/vcpu from the columns before `headerEnd`. The time is the `sec.frac:` or
    /// `ticks:` token right before the event (a `(+diff)` token may sit between); nil when the tool
    /// printed none. `rawTicks` is true for an integer timestamp (counter, uptime, x86-tsc clocks).
    static func tracerHeader(_ l: TraceLineBytes, headerEnd: Int) -> TracerHeader {
        var e = headerEnd
        while e > 0 && l[e - 1] == TraceASCII.space { e -= 1 }
        var ts = e
        while ts > 0 && l[ts - 1] != TraceASCII.space { ts -= 1 }
        if ts < e && l[ts] == TraceASCII.openParen && l[e - 1] == TraceASCII.closeParen {  // --ts-diff
            e = ts
            while e > 0 && l[e - 1] == TraceASCII.space { e -= 1 }
            ts = e
            while ts > 0 && l[ts - 1] != TraceASCII.space { ts -= 1 }
        }
        var h = TracerHeader()
        var columnsEnd = headerEnd
        if ts < e - 1 && l[e - 1] == TraceASCII.colon {
            // A `…:` token right before the event is the time column; anything else there is broken.
            guard isTimestampToken(l, from: ts, to: e - 1), let t = l.time(from: ts, to: e - 1) else {
                h.problem = "bad timestamp"
                return h
            }
            h.time = t
            h.rawTicks = l.find(TraceASCII.dot, from: ts).map { $0 >= e } ?? true
            columnsEnd = ts
        }
        let anchor = cpuColumn(l, before: columnsEnd) ?? latencyColumn(l, before: columnsEnd)
        if let ids = pidAndVcpu(l, anchorOpen: anchor ?? columnsEnd) {
            (h.pid, h.vcpu) = ids
        } else if let anchor {
            // ftrace and trace-cmd always print `comm-pid` before the cpu: a bare `-` is broken.
            var j = anchor
            while j > 0 && l[j - 1] == TraceASCII.space { j -= 1 }
            if j > 0 && l[j - 1] == TraceASCII.dash { h.problem = "no pid before the cpu column" }
        }
        return h
    }

    struct TracerHeader {
        var time: EventTime?
        /// The time is an integer: clock ticks of an unknown unit.
        var rawTicks = false
        var pid: Int32 = -1
        var vcpu: Int32 = -1
        /// Why the columns cannot be trusted, for a malformed line.
        var problem: String?
    }

    /// Only the `sec.frac:` time right before `end` (no `--ts-diff`, no pid): what a skipped line
    /// of another event contributes.
    static func timeColumn(_ l: TraceLineBytes, before end: Int) -> EventTime? {
        var e = end
        while e > 0 && l[e - 1] == TraceASCII.space { e -= 1 }
        guard e > 1, l[e - 1] == TraceASCII.colon else { return nil }
        var ts = e - 1
        while ts > 0 && l[ts - 1] != TraceASCII.space { ts -= 1 }
        return ts < e - 1 ? l.time(from: ts, to: e - 1) : nil
    }

    /// The `[NNN]` cpu column before `end` (ftrace, trace-cmd, perf), followed by a blank or by
    /// trace-cmd's raw `-0x…` flags.
    static func cpuColumn(_ l: TraceLineBytes, before end: Int) -> Int? {
        var from = 0
        while let i = l.find(TraceASCII.openBracket, from: from), i < end {
            from = i + 1
            guard i == 0 || l[i - 1] == TraceASCII.space else { continue }
            var j = i + 1
            while j < end && l[j] &- TraceASCII.zero < 10 { j += 1 }
            guard j > i + 1, j < l.count, l[j] == TraceASCII.closeBracket else { continue }
            if j + 1 == l.count || l[j + 1] == TraceASCII.space || l[j + 1] == TraceASCII.dash { return i }
        }
        return nil
    }

    /// trace-cmd `-l`: the `%3d` cpu glued to the latency flags (`0d..1.`, or `0-0x1` with `-R`),
    /// the token right before `end`. Returns its start.
    static func latencyColumn(_ l: TraceLineBytes, before end: Int) -> Int? {
        var e = end
        while e > 0 && l[e - 1] == TraceASCII.space { e -= 1 }
        var s = e
        while s > 0 && l[s - 1] != TraceASCII.space { s -= 1 }
        var k = s
        while k < e && l[k] &- TraceASCII.zero < 10 { k += 1 }
        guard k > s, k < e, s > 0 else { return nil }
        if l.has("-0x", at: k) { return s }
        guard e - k >= 4 else { return nil }
        for m in k..<e where !isLatencyFlag(l[m]) { return nil }
        return s
    }

    /// Characters of the irq-info / latency column (trace_output.c `trace_print_lat_fmt`,
    /// libtraceevent `data_latency_format`): flags, `.`, and hex depth digits.
    static func isLatencyFlag(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "."), UInt8(ascii: "d"), UInt8(ascii: "D"), UInt8(ascii: "X"), UInt8(ascii: "b"),
             UInt8(ascii: "B"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "p"), UInt8(ascii: "P"),
             UInt8(ascii: "L"), UInt8(ascii: "l"), UInt8(ascii: "H"), UInt8(ascii: "h"), UInt8(ascii: "s"),
             UInt8(ascii: "S"), UInt8(ascii: "z"), UInt8(ascii: "Z"), UInt8(ascii: "f"):
            return true
        default:
            return c &- TraceASCII.zero < 10 || c &- TraceASCII.lowerA < 6
        }
    }

    // MARK: the event

    mutating func tracerLine(_ l: TraceLineBytes, columns: TracerEventColumns) -> TraceLineOutcome {
        if columns.kind == .other {
            // Other events still carry the time that a following LOST line takes.
            if let t = Self.timeColumn(l, before: columns.headerEnd) { lastTime = t }
            return .skipped
        }
        let h = Self.tracerHeader(l, headerEnd: columns.headerEnd)
        if let problem = h.problem { return .malformed(reason: problem) }
        if let t = h.time {
            lastTime = t
            if h.rawTicks { sawRawClockTimestamps = true }
        } else {
            sawUntimedEvents = true
        }
        let time = h.time ?? lastTime
        switch columns.kind {
        case .hypercall:
            guard let f = Self.hypercallFields(l, at: columns.payload) else {
                return .malformed(reason: "kvm_hypercall: bad or missing \(Self.firstBadField(l, at: columns.payload))")
            }
            guard l.onlyBlanks(from: f.end) else { return .malformed(reason: "kvm_hypercall: unexpected text after a3") }
            return .event(Self.hypercallEvent(f, time: time, pid: h.pid, vcpu: h.vcpu))
        case .standIn:
            let at = Self.probeFields(l, payload: columns.payload) ?? Self.fieldStart(l, "nr", from: columns.payload) ?? columns.payload
            // Fields after a3 (a probe may fetch more) are ignored.
            guard let f = Self.hypercallFields(l, at: at) else {
                return .malformed(reason: "probe event: bad or missing \(Self.firstBadField(l, at: at))")
            }
            return .event(Self.hypercallEvent(f, time: time, pid: h.pid, vcpu: h.vcpu))
        case .lookAlike:
            return .event(.otherHypercall(time: time, number: Self.lookAlikeNumber(l, payload: columns.payload)))
        case .msrProtocolEnter:
            return msrProtocol(l, payload: columns.payload, time: time, pid: h.pid)
        case .other:
            return .skipped
        }
    }

    struct HypercallFields { var nr, a0, a1, a2, a3: UInt64; var end: Int }

    /// `nr`, `a0`..`a3` in order, each `key value` or `key=value`, values `0x`-hex or decimal.
    static func hypercallFields(_ l: TraceLineBytes, at i: Int) -> HypercallFields? {
        guard let (nr, e0) = namedNumber(l, "nr", at: i), let (a0, e1) = namedNumber(l, "a0", at: e0),
              let (a1, e2) = namedNumber(l, "a1", at: e1), let (a2, e3) = namedNumber(l, "a2", at: e2),
              let (a3, e4) = namedNumber(l, "a3", at: e3) else { return nil }
        return HypercallFields(nr: nr, a0: a0, a1: a1, a2: a2, a3: a3, end: e4)
    }

    /// The first of nr, a0..a3 that does not parse (for the malformed-line message).
    static func firstBadField(_ l: TraceLineBytes, at i: Int) -> String {
        var e = i
        for key: StaticString in ["nr", "a0", "a1", "a2", "a3"] {
            guard let (_, next) = namedNumber(l, key, at: e) else { return key.description }
            e = next
        }
        return "field"
    }

    static func hypercallEvent(_ f: HypercallFields, time: EventTime, pid: Int32, vcpu: Int32) -> MonitorEvent {
        if f.nr != MapGPARangeRequest.hypercallNumber { return .otherHypercall(time: time, number: f.nr) }
        return MapGPARangeRequest(gpa: f.a0, pageCount: f.a1, attributes: f.a2).event(time: time, vcpu: vcpu, pid: pid, path: .hypercall)
    }

    /// ` key value` or ` key=value` at `i` (blanks before the key skipped); the value must end the field.
    static func namedNumber(_ l: TraceLineBytes, _ key: StaticString, at i: Int) -> (UInt64, Int)? {
        let k = l.skipSpaces(from: i)
        let m = key.utf8CodeUnitCount
        guard l.has(key, at: k), k + m < l.count else { return nil }
        let v: Int
        if l[k + m] == TraceASCII.equals { v = k + m + 1 } else if l[k + m] == TraceASCII.space { v = l.skipSpaces(from: k + m) } else { return nil }
        guard let (value, e) = l.number(at: v), l.endsField(e) else { return nil }
        return (value, e)
    }

    /// What a look-alike event calls its number: Xen `nr`, Hyper-V `code`, or the GHCB MSR request
    /// code (ghcb_gpa bits 11:0) of an MSR-protocol exit; 0 when none is readable.
    static func lookAlikeNumber(_ l: TraceLineBytes, payload: Int) -> UInt64 {
        if let nr = anyField(l, "nr", from: payload) { return nr }
        if let code = anyField(l, "code", from: payload) { return code }
        if let k = l.find("ghcb_gpa", from: payload), k + 9 < l.count {
            let v = l[k + 8] == TraceASCII.equals ? rawGHCBValue(l, valueAt: k + 9) : l.hex(at: l.skipSpaces(from: k + 9))?.value
            return (v ?? 0) & 0xfff
        }
        return 0
    }

    /// The start of the first `key value` / `key=value` field at or after `from`.
    static func fieldStart(_ l: TraceLineBytes, _ key: StaticString, from: Int) -> Int? {
        var i = l.skipSpaces(from: from)
        while i < l.count {
            if namedNumber(l, key, at: i) != nil { return i }
            i = l.skipSpaces(from: l.scanToSpace(from: i))
        }
        return nil
    }

    /// The value of the first `key value` / `key=value` field anywhere after `from`.
    static func anyField(_ l: TraceLineBytes, _ key: StaticString, from: Int) -> UInt64? {
        var i = from
        while i < l.count {
            if (i == from || l[i - 1] == TraceASCII.space), let (v, _) = namedNumber(l, key, at: i) { return v }
            i = l.skipSpaces(from: l.scanToSpace(from: i))
        }
        return nil
    }
}

/// The stand-in event named with `--event [SYSTEM:]NAME` (`SYSTEM/NAME` also accepted): its
/// lines are decoded like `kvm_hypercall` whatever else the payload shows.
public struct TraceEventName: Sendable, Hashable {
    public var system: [UInt8]?
    public var name: [UInt8]

    /// nil for an empty name.
    public init?(_ text: String) {
        let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "/" })
        guard let last = parts.last, !last.isEmpty, parts.count <= 2 else { return nil }
        name = Array(last.utf8)
        system = parts.count == 2 && !parts[0].isEmpty ? Array(parts[0].utf8) : nil
    }

    /// Whether the token `token ..< end` (name from `name`) is this event: the name must match;
    /// the system too when both the token and this name carry one.
    func matches(_ l: TraceLineBytes, token: Int, name start: Int, end: Int) -> Bool {
        guard equal(l, start, end, name) else { return false }
        guard let system, start > token else { return true }
        var ss = token
        for k in token..<(start - 1) where l[k] == TraceASCII.colon { ss = k + 1 }
        return equal(l, ss, start - 1, system)
    }

    private func equal(_ l: TraceLineBytes, _ s: Int, _ e: Int, _ bytes: [UInt8]) -> Bool {
        guard e - s == bytes.count else { return false }
        for (k, b) in bytes.enumerated() where l[s + k] != b { return false }
        return true
    }
}
