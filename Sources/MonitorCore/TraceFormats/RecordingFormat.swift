/// encmon recording format, version 1.
///
/// A recording is UTF-8 text, one record per line, written append-only: a crash loses at most the
/// last, partial line, and a reader reports that line as malformed and keeps everything before it.
/// Every `MonitorEvent` round-trips exactly.
///
/// ```
/// recording  = header *( record / comment / blank )
/// header     = "encmon-recording" SP "1" LF          ; first line; the version is a decimal integer
/// comment    = "#" *( any byte but LF ) LF
/// blank      = *( SP / HTAB ) LF
/// record     = type *( 1*SP field ) *( SP ) LF         ; a line is at most 65536 bytes
/// type       = "conversion" / "rejected" / "other-hypercall" / "counter" / "layout"
///            / "migration" / "migration-pass" / "marker" / "lost"
/// field      = key "=" value                           ; value: no SP, may be empty
/// key        = 1*( ALPHA / DIGIT / "-" )
/// ```
/// Fields may come in any order; readers ignore unknown keys (later versions may add fields) and
/// report a record with a missing or bad required field as malformed. An optional field is
/// absent when its value is nil. A CR before the LF is ignored.
///
/// Value types:
/// - `TIME`, `DOUBLE`: Swift's shortest round-trip `Double` description (`9051.204113`, `1e-06`,
///   `inf`, `-inf`, `nan`); times are seconds.
/// - `HEX`: `0x` and lower-case hex digits (addresses, page numbers, attributes, hypercall numbers).
/// - `UINT`, `INT`: decimal, `INT` may start with `-`.
/// - `STR`: UTF-8 text where `%`, `,`, `:`, bytes 0x00-0x20 (space and controls) and 0x7F are
///   written `%HH` (upper-case hex); everything else, non-ASCII included, is literal. Empty = "".
///
/// Records (required fields first, `[optional]`):
/// ```
/// conversion      t=TIME dir=shared|private gfn=HEX pages=UINT vcpu=INT pid=INT path=PATH [anomalies=ANOMALY *("," ANOMALY)]
/// rejected        t=TIME gpa=HEX pages=UINT attrs=HEX reason=REASON pid=INT
/// other-hypercall t=TIME nr=HEX
/// counter         t=TIME name=STR value=UINT
/// layout          t=TIME ranges=[RANGE *("," RANGE)]   ; RANGE = KIND ":" HEX(first page) ":" UINT(pages) ":" STR(name)
/// migration       t=TIME status=STATUS pass=INT transferred=UINT remaining=UINT total=UINT
///                 dirty-rate=DOUBLE bandwidth=DOUBLE [downtime=DOUBLE] [note=STR] [setup=DOUBLE]
///                 ; STATUS = a QEMU MigrationStatus name, or pre-copy / stop-and-copy (simulator)
/// migration-pass  t=TIME(end) start=TIME pass=INT stop-and-copy=0|1 sent=UINT shared-sent=UINT
///                 dirtied=UINT resent-for-encryption=UINT changed-state=UINT bitmap-bytes=UINT
///                 range-list-bytes=UINT
/// marker          t=TIME text=STR
/// lost            t=TIME count=UINT|unknown          ; 0 (older recordings) also reads as unknown
/// ```
/// `PATH` = hypercall, psc, qemu, kernel-log, simulator, recording; `REASON` = unaligned-gpa,
/// zero-pages, range-wraps (bad-attributes only in older recordings); `ANOMALY` =
/// reserved-attribute-bits, beyond-address-space; `KIND` = ram, hole, mmio, firmware; `STATUS` = none,
/// setup, active, pre-copy, stop-and-copy, completed, failed, cancelled. Page ranges are a first page
/// number (GFN, 4 KiB pages) and a page count; the range must end at or below 2^52.
///
/// Example:
/// ```
/// encmon-recording 1
/// # recorded by encmon demo --record
/// conversion t=12.5 dir=shared gfn=0x7d4c2 pages=1 vcpu=2 pid=40517 path=hypercall
/// rejected t=12.6 gpa=0x7d4c2001 pages=1 attrs=0x0 reason=unaligned-gpa pid=-1
/// marker t=13.0 text=phase%3A%20boot%20done
/// lost t=14.25 count=12
/// ```
public enum RecordingFormat {
    public static let version = 1
    public static let headerLine = "encmon-recording 1"
    /// Longest record line a reader accepts (the trace-text cap is smaller).
    public static let maxLineLength = 1 << 16

    public enum RecordType: String, Sendable, CaseIterable {
        case conversion, rejected, otherHypercall = "other-hypercall", counter, layout, migration
        case migrationPass = "migration-pass", marker, lost
    }

    /// Why a record line cannot be decoded.
    public enum DecodeError: Error, CustomStringConvertible, Hashable, Sendable {
        case unknownRecordType(String)
        case missingField(record: String, key: String)
        case badValue(record: String, key: String, value: String)

        public var description: String {
            switch self {
            case .unknownRecordType(let t): "unknown record type '\(t)'"
            case .missingField(let r, let k): "\(r) record without \(k)="
            case .badValue(let r, let k, let v): "\(r) record: bad \(k) value '\(v)'"
            }
        }
    }

    // MARK: encoding

    /// One record line, without the newline.
    public static func encode(_ event: MonitorEvent) -> String {
        var s: String
        switch event {
        case .conversion(let c):
            s = "conversion t=\(c.time) dir=\(c.direction == .toShared ? "shared" : "private")"
            s += " gfn=\(hex(c.pages.lower)) pages=\(c.pages.count) vcpu=\(c.vcpu) pid=\(c.pid) path=\(c.path.name)"
            if !c.anomalies.isEmpty {
                s += " anomalies=" + ConversionAnomalies.names.filter { c.anomalies.contains($0.0) }.map(\.1).joined(separator: ",")
            }
        case .rejected(let r):
            s = "rejected t=\(r.time) gpa=\(hex(r.gpa)) pages=\(r.pageCount) attrs=\(hex(r.attributes))"
            s += " reason=\(r.reason.rawValue) pid=\(r.pid)"
        case .otherHypercall(let t, let nr):
            s = "other-hypercall t=\(t) nr=\(hex(nr))"
        case .counter(let t, let name, let value):
            s = "counter t=\(t) name=\(escape(name)) value=\(value)"
        case .layout(let l):
            s = "layout t=\(l.time) ranges="
            for (k, r) in l.ranges.enumerated() {
                if k > 0 { s += "," }
                s += "\(r.kind.rawValue):\(hex(r.pages.lower)):\(r.pages.count):\(escape(r.name))"
            }
        case .migrationProgress(let m):
            s = "migration t=\(m.time) status=\(m.status.rawValue) pass=\(m.pass) transferred=\(m.ramTransferredBytes)"
            s += " remaining=\(m.ramRemainingBytes) total=\(m.ramTotalBytes) dirty-rate=\(m.dirtyPagesPerSecond)"
            s += " bandwidth=\(m.bandwidthBytesPerSecond)"
            if let d = m.downtimeSeconds { s += " downtime=\(d)" }
            if let n = m.note { s += " note=\(escape(n))" }
            if let st = m.setupSeconds { s += " setup=\(st)" }
        case .migrationPass(let p):
            s = "migration-pass t=\(p.endTime) start=\(p.startTime) pass=\(p.pass) stop-and-copy=\(p.isStopAndCopy ? 1 : 0)"
            s += " sent=\(p.pagesSent) shared-sent=\(p.sharedPagesSent) dirtied=\(p.pagesDirtied)"
            s += " resent-for-encryption=\(p.pagesResentForEncryption) changed-state=\(p.pagesChangedState)"
            s += " bitmap-bytes=\(p.resyncBitmapBytes) range-list-bytes=\(p.resyncRangeListBytes)"
        case .marker(let t, let text):
            s = "marker t=\(t) text=\(escape(text))"
        case .lostEvents(let t, let count):
            s = "lost t=\(t) count=\(count.map(String.init) ?? "unknown")"
        }
        return s
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// Percent-encodes `%`, `,`, `:`, space, controls and DEL; leaves the rest (UTF-8 included).
    public static func escape(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        let digits = Array("0123456789ABCDEF".utf8)
        for b in text.utf8 {
            if b <= 0x20 || b == 0x7f || b == UInt8(ascii: "%") || b == UInt8(ascii: ",") || b == UInt8(ascii: ":") {
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 0xf)])
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The inverse of `escape`; nil for a bad `%` sequence or invalid UTF-8.
    public static func unescape<S: StringProtocol>(_ text: S) -> String? {
        var out: [UInt8] = []
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard let h = it.popFirst(), let l = it.popFirst(), let hv = hexDigit(h), let lv = hexDigit(l) else { return nil }
                out.append(hv << 4 | lv)
            } else {
                out.append(b)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    // MARK: decoding

    /// Decodes one record line (without its newline).
    public static func decode(_ line: String) throws(DecodeError) -> MonitorEvent {
        try decodeResult(line).get()
    }

    static func decodeResult(_ line: String) -> Result<MonitorEvent, DecodeError> {
        var fields = Fields(line: line)
        guard let type = RecordType(rawValue: String(fields.type)) else { return .failure(.unknownRecordType(String(fields.type))) }
        do throws(DecodeError) {
            return .success(try decode(type, &fields))
        } catch {
            return .failure(error)
        }
    }

    private static func decode(_ type: RecordType, _ f: inout Fields) throws(DecodeError) -> MonitorEvent {
        let t = try f.double("t")
        switch type {
        case .conversion:
            let dir: ConversionDirection = try f.parse("dir") { $0 == "shared" ? .toShared : $0 == "private" ? .toPrivate : nil }
            let pages = try f.pageRange(firstKey: "gfn", countKey: "pages")
            let path = try f.parse("path") { v in ConversionPath.allCases.first { $0.name == v } }
            var anomalies: ConversionAnomalies = []
            if f.has("anomalies") {
                for name in try f.value("anomalies").split(separator: ",") {
                    guard let a = ConversionAnomalies.names.first(where: { $0.1 == name }) else {
                        throw .badValue(record: "conversion", key: "anomalies", value: String(name))
                    }
                    anomalies.insert(a.0)
                }
            }
            return .conversion(Conversion(time: t, pages: pages, direction: dir, vcpu: try f.int32("vcpu"),
                                          pid: try f.int32("pid"), path: path, anomalies: anomalies))
        case .rejected:
            let reason = try f.parse("reason") { RejectionReason(rawValue: String($0)) }
            return .rejected(RejectedConversion(time: t, gpa: try f.hex("gpa"), pageCount: try f.uint("pages"),
                                                attributes: try f.hex("attrs"), reason: reason, pid: try f.int32("pid")))
        case .otherHypercall:
            return .otherHypercall(time: t, number: try f.hex("nr"))
        case .counter:
            return .counter(time: t, name: try f.string("name"), value: try f.uint("value"))
        case .layout:
            let raw = try f.value("ranges")
            var ranges: [GuestLayoutRange] = []
            if !raw.isEmpty {
                for item in raw.split(separator: ",", omittingEmptySubsequences: false) {
                    let parts = item.split(separator: ":", omittingEmptySubsequences: false)
                    guard parts.count == 4, let kind = GuestLayoutRange.Kind(rawValue: String(parts[0])),
                          let first = parseHex(parts[1]), let count = UInt64(parts[2]),
                          let pages = checkedRange(first: first, count: count),
                          let name = unescape(parts[3]) else {
                        throw .badValue(record: "layout", key: "ranges", value: String(item))
                    }
                    ranges.append(GuestLayoutRange(pages: pages, kind: kind, name: name))
                }
            }
            return .layout(GuestLayout(time: t, ranges: ranges))
        case .migration:
            let status = try f.parse("status") { MigrationStatus(rawValue: String($0)) }
            return .migrationProgress(MigrationProgress(
                time: t, status: status, pass: try f.int("pass"), ramTransferredBytes: try f.uint("transferred"),
                ramRemainingBytes: try f.uint("remaining"), ramTotalBytes: try f.uint("total"),
                dirtyPagesPerSecond: try f.double("dirty-rate"), bandwidthBytesPerSecond: try f.double("bandwidth"),
                downtimeSeconds: f.has("downtime") ? try f.double("downtime") : nil,
                note: f.has("note") ? try f.string("note") : nil,
                setupSeconds: f.has("setup") ? try f.double("setup") : nil))
        case .migrationPass:
            let stop: Bool = try f.parse("stop-and-copy") { $0 == "1" ? true : $0 == "0" ? false : nil }
            return .migrationPass(MigrationPassRecord(
                pass: try f.int("pass"), isStopAndCopy: stop, startTime: try f.double("start"), endTime: t,
                pagesSent: try f.uint("sent"), sharedPagesSent: try f.uint("shared-sent"), pagesDirtied: try f.uint("dirtied"),
                pagesResentForEncryption: try f.uint("resent-for-encryption"), pagesChangedState: try f.uint("changed-state"),
                resyncBitmapBytes: try f.uint("bitmap-bytes"), resyncRangeListBytes: try f.uint("range-list-bytes")))
        case .marker:
            return .marker(time: t, text: try f.string("text"))
        case .lost:
            if try f.value("count") == "unknown" { return .lostEvents(time: t, count: nil) }
            let n = try f.uint("count")
            return .lostEvents(time: t, count: n == 0 ? nil : n)
        }
    }

    static func parseHex<S: StringProtocol>(_ s: S) -> UInt64? {
        guard s.hasPrefix("0x") || s.hasPrefix("0X") else { return nil }
        let digits = s.dropFirst(2)
        guard !digits.isEmpty, digits.allSatisfy(\.isHexDigit) else { return nil }
        return UInt64(digits, radix: 16)
    }

    static func checkedRange(first: UInt64, count: UInt64) -> PageRange? {
        let (upper, overflow) = first.addingReportingOverflow(count)
        guard !overflow, upper <= PageRange.maxPage else { return nil }
        return PageRange(lower: first, upper: upper)
    }

    static func trimmingBlanks(_ s: String) -> String {
        var sub = Substring(s)
        while let c = sub.first, c == " " || c == "\t" { sub.removeFirst() }
        while let c = sub.last, c == " " || c == "\t" { sub.removeLast() }
        return String(sub)
    }

    /// The fields of one record line.
    private struct Fields {
        let type: Substring
        let record: String
        var pairs: [(key: Substring, value: Substring)] = []

        init(line: String) {
            var tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })[...]
            type = tokens.popFirst() ?? ""
            record = String(type)
            for tok in tokens {
                if let eq = tok.firstIndex(of: "=") {
                    pairs.append((tok[..<eq], tok[tok.index(after: eq)...]))
                } else {
                    pairs.append((tok, ""))
                }
            }
        }

        func has(_ key: String) -> Bool { pairs.contains { $0.key == key } }

        func value(_ key: String) throws(DecodeError) -> Substring {
            guard let p = pairs.first(where: { $0.key == key }) else { throw .missingField(record: record, key: key) }
            return p.value
        }

        func parse<T>(_ key: String, _ convert: (Substring) -> T?) throws(DecodeError) -> T {
            let v = try value(key)
            guard let r = convert(v) else { throw .badValue(record: record, key: key, value: String(v)) }
            return r
        }

        func double(_ key: String) throws(DecodeError) -> Double { try parse(key) { Double($0) } }
        func uint(_ key: String) throws(DecodeError) -> UInt64 {
            try parse(key) { $0.first?.isNumber == true ? UInt64($0) : nil }
        }
        func int(_ key: String) throws(DecodeError) -> Int { try parse(key) { Int($0) } }
        func int32(_ key: String) throws(DecodeError) -> Int32 { try parse(key) { Int32($0) } }
        func hex(_ key: String) throws(DecodeError) -> UInt64 { try parse(key) { RecordingFormat.parseHex($0) } }
        func string(_ key: String) throws(DecodeError) -> String { try parse(key) { RecordingFormat.unescape($0) } }

        func pageRange(firstKey: String, countKey: String) throws(DecodeError) -> PageRange {
            let first = try hex(firstKey)
            let count = try uint(countKey)
            guard let r = RecordingFormat.checkedRange(first: first, count: count) else {
                throw .badValue(record: record, key: countKey, value: "\(count) pages from \(RecordingFormat.hex(first))")
            }
            return r
        }
    }
}
