/// The identity of a QEMU conversion, to recognise the `kvm_convert_memory` line that repeats the
/// `kvm_hc_map_gpa_range` or `kvm_memory_fault` before it on the same thread (target/i386/kvm/kvm.c
/// and accel/kvm/kvm-all.c call `kvm_convert_memory` from both).
struct QEMUConversionKey: Sendable, Hashable {
    var start: UInt64
    var size: UInt64
    var toPrivate: Bool
}

extension TraceLineParser {
    /// The prefix QEMU's log backend may put before an event name (reference §12): nothing,
    /// `tid@sec.usec:`, or an ISO-8601 UTC time optionally followed by `(tid)`. Any other prefix
    /// (a journal or libvirt log header) is tolerated and carries no time.
    /// Returns nil when a recognised prefix has a bad number.
    mutating func qemuPrefix(_ l: TraceLineBytes, eventAt k: Int) -> (time: EventTime, tid: Int32)? {
        var pe = k
        while pe > 0 && l[pe - 1] == TraceASCII.space { pe -= 1 }
        let ps = l.skipSpaces(from: 0)
        if ps >= pe { return (lastTime, -1) }
        // tid@sec.usec:
        if l[pe - 1] == TraceASCII.colon, let at = l.find(TraceASCII.at, from: ps), at < pe {
            guard let (tid, e) = l.decimal(at: ps), e == at, tid <= UInt64(Int32.max),
                  let t = l.time(from: at + 1, to: pe - 1) else { return nil }
            lastTime = t
            return (t, Int32(tid))
        }
        // 2026-01-01T00:00:00.123456Z [(tid)]
        if pe - ps >= 20, l[ps + 4] == TraceASCII.dash, l[ps + 10] == UInt8(ascii: "T") {
            guard let (t, e) = l.isoTime(at: ps) else { return nil }
            lastTime = t
            var tid: Int32 = -1
            let o = l.skipSpaces(from: e)
            if o < pe, l[o] == TraceASCII.openParen, let (v, e2) = l.decimal(at: o + 1),
               e2 < pe, l[e2] == TraceASCII.closeParen, v <= UInt64(Int32.max) {
                tid = Int32(v)
            }
            return (t, tid)
        }
        return (lastTime, -1)
    }

    /// Other QEMU trace events (`kvm_run_exit`, ...) carry the time too: remember it for lines
    /// without a prefix.
    mutating func noteQEMUPrefixTime(_ l: TraceLineBytes) {
        let s = l.skipSpaces(from: 0)
        guard s < l.count, l[s] &- TraceASCII.zero < 10 else { return }
        if let (_, e) = l.decimal(at: s), e < l.count, l[e] == TraceASCII.at,
           let colon = l.find(TraceASCII.colon, from: e + 1), let t = l.time(from: e + 1, to: colon) {
            lastTime = t
        } else if l.count - s >= 20, l[s + 4] == TraceASCII.dash, l[s + 10] == UInt8(ascii: "T"),
                  let (t, _) = l.isoTime(at: s) {
            lastTime = t
        }
    }

    /// Whether the event name at `k` stands alone (start of line, or after a space, `:` or `)`)
    /// and is followed by a space.
    static func qemuEventNameIsToken(_ l: TraceLineBytes, at k: Int, length: Int) -> Bool {
        let before = k == 0 || l[k - 1] == TraceASCII.space || l[k - 1] == TraceASCII.colon || l[k - 1] == TraceASCII.closeParen
        return before && k + length < l.count && l[k + length] == TraceASCII.space
    }

    /// `kvm_hc_map_gpa_range gpa 0x%PRIx64 size 0x%PRIx64 attributes 0x%PRIx64 flags 0x%PRIx64`
    /// (size in bytes; attributes = the guest's a2).
    mutating func qemuMapGPARange(_ l: TraceLineBytes, at k: Int) -> TraceLineOutcome {
        let nameLength = 20
        guard Self.qemuEventNameIsToken(l, at: k, length: nameLength) else { return .skipped }
        guard let (time, tid) = qemuPrefix(l, eventAt: k) else { return .malformed(reason: "kvm_hc_map_gpa_range: bad timestamp prefix") }
        let i = k + nameLength
        guard let (gpa, e0) = Self.hexField(l, "gpa ", at: i) else { return .malformed(reason: "kvm_hc_map_gpa_range: bad or missing gpa") }
        guard let (size, e1) = Self.hexField(l, "size ", at: e0) else { return .malformed(reason: "kvm_hc_map_gpa_range: bad or missing size") }
        guard let (attributes, e2) = Self.hexField(l, "attributes ", at: e1) else {
            return .malformed(reason: "kvm_hc_map_gpa_range: bad or missing attributes")
        }
        guard let (_, e3) = Self.hexField(l, "flags ", at: e2), l.onlyBlanks(from: e3) else {
            return .malformed(reason: "kvm_hc_map_gpa_range: bad or missing flags")
        }
        let event = MapGPARangeRequest(gpa: gpa, pageCount: Self.pagesCovering(bytes: size), attributes: attributes)
            .event(time: time, vcpu: -1, pid: tid, path: .qemu)
        if case .conversion(let c) = event {
            notePending(QEMUConversionKey(start: gpa, size: size, toPrivate: c.direction == .toPrivate), thread: tid)
        }
        return .event(event)
    }

    /// `kvm_memory_fault start 0x%PRIx64 size 0x%PRIx64 flags 0x%PRIx64` (accel/kvm/trace-events):
    /// an implicit conversion, to private when `KVM_MEMORY_EXIT_FLAG_PRIVATE` (bit 3) is set.
    mutating func qemuMemoryFault(_ l: TraceLineBytes, at k: Int) -> TraceLineOutcome {
        let nameLength = 16
        guard Self.qemuEventNameIsToken(l, at: k, length: nameLength) else { return .skipped }
        guard let (time, tid) = qemuPrefix(l, eventAt: k) else { return .malformed(reason: "kvm_memory_fault: bad timestamp prefix") }
        guard let (start, e0) = Self.hexField(l, "start ", at: k + nameLength) else { return .malformed(reason: "kvm_memory_fault: bad or missing start") }
        guard let (size, e1) = Self.hexField(l, "size ", at: e0) else { return .malformed(reason: "kvm_memory_fault: bad or missing size") }
        guard let (flags, e2) = Self.hexField(l, "flags ", at: e1), l.onlyBlanks(from: e2) else {
            return .malformed(reason: "kvm_memory_fault: bad or missing flags")
        }
        let toPrivate = flags & Self.memoryExitFlagPrivate != 0
        let event = MapGPARangeRequest(gpa: start, pageCount: Self.pagesCovering(bytes: size),
                                       attributes: toPrivate ? MapGPARangeRequest.encryptedBit : 0)
            .event(time: time, vcpu: -1, pid: tid, path: .qemu)
        if case .conversion = event { notePending(QEMUConversionKey(start: start, size: size, toPrivate: toPrivate), thread: tid) }
        return .event(event)
    }

    /// `KVM_MEMORY_EXIT_FLAG_PRIVATE` (include/uapi/linux/kvm.h).
    static let memoryExitFlagPrivate: UInt64 = 1 << 3

    /// Remembers a thread's conversion until its `kvm_convert_memory`. Bounded: a log of many
    /// threads that never print the second line cannot grow it without limit.
    mutating func notePending(_ key: QEMUConversionKey, thread: Int32) {
        if thread < 0 {
            if pendingUnthreadedQEMU.count >= 64 { pendingUnthreadedQEMU.removeFirst() }
            pendingUnthreadedQEMU.append(key)
            return
        }
        if pendingQEMU.count >= 4096 && pendingQEMU[thread] == nil { pendingQEMU.removeAll(keepingCapacity: true) }
        pendingQEMU[thread] = key
    }

    /// Whether `key` repeats a pending conversion of `thread` (which it then consumes).
    /// A thread's own pending conversion first; else one logged without a thread id.
    mutating func takePending(_ key: QEMUConversionKey, thread: Int32) -> Bool {
        if thread >= 0, let p = pendingQEMU.removeValue(forKey: thread), p == key { return true }
        guard let i = pendingUnthreadedQEMU.firstIndex(of: key) else { return false }
        pendingUnthreadedQEMU.remove(at: i)
        return true
    }

    /// `kvm_convert_memory start 0x%PRIx64 size 0x%PRIx64 shared_to_private|private_to_shared`.
    mutating func qemuConvertMemory(_ l: TraceLineBytes, at k: Int) -> TraceLineOutcome {
        let nameLength = 18
        guard Self.qemuEventNameIsToken(l, at: k, length: nameLength) else { return .skipped }
        guard let (time, tid) = qemuPrefix(l, eventAt: k) else { return .malformed(reason: "kvm_convert_memory: bad timestamp prefix") }
        guard let (start, e0) = Self.hexField(l, "start ", at: k + nameLength) else {
            return .malformed(reason: "kvm_convert_memory: bad or missing start")
        }
        guard let (size, e1) = Self.hexField(l, "size ", at: e0) else { return .malformed(reason: "kvm_convert_memory: bad or missing size") }
        let d = l.skipSpaces(from: e1)
        let toPrivate: Bool
        if l.has("shared_to_private", at: d) && l.onlyBlanks(from: d + 17) {
            toPrivate = true
        } else if l.has("private_to_shared", at: d) && l.onlyBlanks(from: d + 17) {
            toPrivate = false
        } else {
            return .malformed(reason: "kvm_convert_memory: direction is not shared_to_private or private_to_shared")
        }
        if takePending(QEMUConversionKey(start: start, size: size, toPrivate: toPrivate), thread: tid) { return .duplicate }
        return .event(MapGPARangeRequest(gpa: start, pageCount: Self.pagesCovering(bytes: size),
                                         attributes: toPrivate ? MapGPARangeRequest.encryptedBit : 0)
            .event(time: time, vcpu: -1, pid: tid, path: .qemu))
    }

    /// 4 KiB pages covering `bytes` (QEMU always passes whole pages).
    static func pagesCovering(bytes: UInt64) -> UInt64 {
        (bytes >> GuestPage.shift) + (bytes & (GuestPage.size - 1) != 0 ? 1 : 0)
    }

    /// `[   12.500731] page_enc_status_hc invoked, gpa = 7d4c2000, npages  = 1, enc = 0` (reference
    /// §11): gpa and npages hex without `0x`, enc 1 = to private. Any prefix is tolerated (syslog,
    /// journal); the time is the last `[ sec.usec]` group right before the message, else the last
    /// time seen.
    mutating func pageEncStatus(_ l: TraceLineBytes, at k: Int) -> TraceLineOutcome {
        let nameEnd = k + 18
        guard nameEnd == l.count || l[nameEnd] == TraceASCII.space || l[nameEnd] == TraceASCII.colon else { return .skipped }
        var i = l.skipSpaces(from: nameEnd)
        guard l.has("invoked", at: i) else { return .malformed(reason: "page_enc_status_hc: expected 'invoked'") }
        i += 7
        if i < l.count && l[i] == TraceASCII.comma { i += 1 }
        guard let (gpa, e0) = Self.equalsField(l, "gpa", hex: true, at: i) else { return .malformed(reason: "page_enc_status_hc: bad or missing gpa") }
        guard let (npages, e1) = Self.equalsField(l, "npages", hex: true, at: e0) else {
            return .malformed(reason: "page_enc_status_hc: bad or missing npages")
        }
        guard let (enc, e2) = Self.equalsField(l, "enc", hex: false, at: e1), enc <= 1, l.onlyBlanks(from: e2) else {
            return .malformed(reason: "page_enc_status_hc: enc is not 0 or 1")
        }
        let time = kernelLogTime(l, before: k) ?? lastTime
        lastTime = time
        return .event(MapGPARangeRequest(gpa: gpa, pageCount: npages, attributes: enc == 1 ? MapGPARangeRequest.encryptedBit : 0)
            .event(time: time, vcpu: -1, pid: -1, path: .kernelLog))
    }

    /// `[,] key = value` with any spacing around `=`; the value ends at `,`, a space or the end.
    static func equalsField(_ l: TraceLineBytes, _ key: StaticString, hex: Bool, at i: Int) -> (UInt64, Int)? {
        var j = l.skipSpaces(from: i)
        if j < l.count && l[j] == TraceASCII.comma { j = l.skipSpaces(from: j + 1) }
        guard l.has(key, at: j) else { return nil }
        j = l.skipSpaces(from: j + key.utf8CodeUnitCount)
        guard j < l.count && l[j] == TraceASCII.equals else { return nil }
        j = l.skipSpaces(from: j + 1)
        guard let (v, e) = hex ? l.hex(at: j) : l.decimal(at: j),
              e == l.count || l[e] == TraceASCII.space || l[e] == TraceASCII.comma else { return nil }
        return (v, e)
    }

    /// The printk time `[ sec.usec]` closest before `k`, skipping a caller id group like `[T1234]`.
    func kernelLogTime(_ l: TraceLineBytes, before k: Int) -> EventTime? {
        var j = k - 1
        for _ in 0..<3 {
            while j >= 0 && (l[j] == TraceASCII.space || l[j] == TraceASCII.colon) { j -= 1 }
            guard j >= 0 && l[j] == TraceASCII.closeBracket else { return nil }
            let close = j
            while j >= 0 && l[j] != TraceASCII.openBracket { j -= 1 }
            guard j >= 0 else { return nil }
            let open = j
            let s = l.skipSpaces(from: open + 1)
            if let t = l.time(from: s, to: close) { return t }
            j = open - 1
        }
        return nil
    }
}
