import Testing
@testable import MonitorCore

/// Inputs a guest, a trace file or a recording can carry that once trapped: each case of issue 9,
/// then random extreme events against a simple reference.
@Suite struct HostileInputTests {
    static func ftrace(_ time: String, _ payload: String) -> String {
        "       CPU 0/KVM-40510   [000] d..1.  \(time): kvm_hypercall: \(payload)"
    }

    static func replay(_ text: String) throws -> (Monitor, TraceReader) {
        let reader = TraceReader(bytes: Array(text.utf8), name: "hostile")
        var m = Monitor()
        try reader.forEach { m.apply($0) }
        return (m, reader)
    }

    // MARK: the cases of the issue

    @Test func fullSpanHypercallsSaturateThePageCounters() throws {
        // 2^52 pages from gpa 0: a range KVM accepts. 4,096 of them overflowed the UInt64 page
        // totals; 4,100 to shared, then 4,100 to private, all within one second of event time.
        let lines = (0..<8_200).map { k in
            Self.ftrace("9000.\(100_000 + k)", "nr 0xc a0 0x0 a1 0x10000000000000 a2 0x\(k < 4_100 ? "0" : "10") a3 0x0")
        }
        let (m, reader) = try Self.replay(lines.joined(separator: "\n"))
        #expect(reader.counters.events == 8_200)
        #expect(m.totals.conversions == 8_200)
        #expect(m.totals.pagesToShared == UInt64.max && m.totals.pagesToPrivate == UInt64.max)
        // Only the first of each direction changed anything.
        #expect(m.totals.pagesChanged == 2 * PageRange.maxPage)
        #expect(m.regions.sharedPages == 0)
        // The 1 s bucket saturates too and the rate stays finite (the 1 s rate is the last
        // complete second: let that second end first).
        var later = m
        later.advance(to: 9001.5)
        let now = later.snapshot().currentRates
        #expect(now.pagesToShared == Double(UInt64.max) && now.pagesToPrivate == Double(UInt64.max))
        #expect(now.pages.isFinite)
    }

    @Test func sharedBytesOfTheFullSpanDoNotWrap() {
        var m = Monitor()
        m.apply(.conversion(Conversion(time: 1, pages: PageRange(lower: 0, upper: PageRange.maxPage), direction: .toShared, path: .hypercall)))
        #expect(m.regions.sharedPages == PageRange.maxPage)
        let json = MonitorSummary.json(m.snapshot(), source: SourceStatus(kind: .replay, name: "x")).serialized()
        #expect(json.contains("\"sharedBytes\": \(UInt64.max)"))
        #expect(PageRange(lower: 0, upper: PageRange.maxPage).byteCount == UInt64.max)
        #expect(m.trackingCost.bitmapBytes == PageRange.maxPage / 8)
        #expect(MonitorSummary.text(m.snapshot(), source: SourceStatus(kind: .replay, name: "x")).contains("16.0 EiB"))
    }

    @Test func largestFtraceTimestampIsRefusedNotTrapped() throws {
        let text = [
            Self.ftrace("100.000000", "nr 0xc a0 0x1000 a1 0x1 a2 0x0 a3 0x0"),
            Self.ftrace("18446744073709551615", "nr 0xc a0 0x2000 a1 0x1 a2 0x0 a3 0x0"),
            Self.ftrace("18446744073709551615.999999", "nr 0xc a0 0x3000 a1 0x1 a2 0x0 a3 0x0"),
            Self.ftrace("101.000000", "nr 0xc a0 0x4000 a1 0x1 a2 0x0 a3 0x0"),
        ].joined(separator: "\n")
        let (m, _) = try Self.replay(text)
        // Whether the parser reads the huge stamps or calls the lines malformed, none reaches the map.
        #expect(m.regions.sharedPages == 2)
        #expect(m.now == 101 && m.origin == 100)
        #expect(m.totals.conversions == 2)
        var direct = Monitor()
        direct.apply(.conversion(Conversion(time: Double(UInt64.max), pages: PageRange(first: 1, count: 1), direction: .toShared, path: .hypercall)))
        #expect(direct.totals.rejectedTimes == 1 && direct.regions.isEmpty && direct.origin == nil)
    }

    @Test func nonFiniteTimeInARecordingIsRefusedByTheModel() throws {
        // The recording grammar carries any Double (recordings round-trip every event); the model
        // refuses what is not a usable time and counts it.
        for t in ["inf", "-inf", "nan", "1e300", "18446744073709551615"] {
            let text = "encmon-recording 1\nconversion t=\(t) dir=shared gfn=0x10 pages=1 vcpu=0 pid=0 path=hypercall\n"
                + "conversion t=5 dir=shared gfn=0x20 pages=1 vcpu=0 pid=0 path=hypercall\n"
            let (m, reader) = try Self.replay(text)
            #expect(reader.counters.events == 2, "t=\(t)")
            #expect(m.totals.rejectedTimes == 1 && m.totals.events == 1, "t=\(t)")
            #expect(m.regions.sharedPages == 1 && m.origin == 5 && m.now == 5, "t=\(t)")
        }
        var m = Monitor()
        for t in [EventTime.infinity, -.infinity, .nan, 1e300] {
            m.apply(.conversion(Conversion(time: t, pages: PageRange(first: 1, count: 1), direction: .toShared, path: .recording)))
            m.advance(to: t)
        }
        #expect(m.totals.rejectedTimes == 4 && m.totals.events == 0 && m.regions.isEmpty && m.origin == nil)
    }

    @Test func outOfOrderLayoutIsSortedInTheModel() throws {
        let (replayed, _) = try Self.replay("encmon-recording 1\nlayout t=1 ranges=ram:0x100000:16:high,ram:0x0:16:low\n")
        #expect(replayed.layout?.ranges.map(\.pages.lower) == [0, 0x100000])
        #expect(replayed.guestSpan == PageRange(lower: 0, upper: 0x100010))
        var m = Monitor()
        let high = GuestLayoutRange(pages: PageRange(first: 0x100000, count: 16), kind: .ram, name: "high")
        let low = GuestLayoutRange(pages: PageRange(first: 0, count: 16), kind: .ram, name: "low")
        let overlapping = GuestLayoutRange(pages: PageRange(first: 8, count: 16), kind: .mmio, name: "overlap")
        m.apply(.layout(GuestLayout(time: 1, ranges: [high, low, overlapping])))
        #expect(m.layout?.ranges.map(\.name) == ["low", "high"])
        #expect(m.guestSpan == PageRange(lower: 0, upper: 0x100010))
        #expect(GuestLayout(time: 1, ranges: [high, low]).span == PageRange(lower: 0, upper: 0x100010))
    }

    @Test func isoTimestampWithManyFractionDigitsDoesNotOverflow() {
        let text = "9999-12-31T23:59:59.999999999999Z"
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { buf in
            let l = TraceLineBytes(base: buf.baseAddress!, count: buf.count)
            let parsed = l.isoTime(at: 0)
            #expect(parsed != nil)
            if let (t, end) = parsed { #expect(t > 2.5e11 && end == bytes.count) }
        }
    }

    @Test func hugeValuesFormatWithoutTrapping() {
        #expect(ByteFormat.formatFixed(1e30, digits: 2) == "1e+30")
        #expect(ByteFormat.human(Double.nan) == "nan B")
        #expect(JSONValue.double(1.5e30).serialized() == "1.5e+30")
    }
}
