/// The batch summary of a run (`encmon replay FILE --json`, `encmon demo --batch --json`): a
/// stable interface, documented field by field in the README.
public enum MonitorSummary {
    public static let formatVersion = 1

    public static func json(_ s: MonitorSnapshot, source: SourceStatus, includeRegions: Bool = true) -> JSONValue {
        let t = s.totals
        func rate(_ f: RateFigures) -> JSONValue {
            .object([
                ("window", .int(Int64(f.window))),
                ("callsToShared", .double(f.callsToShared)), ("callsToPrivate", .double(f.callsToPrivate)),
                ("pagesToShared", .double(f.pagesToShared)), ("pagesToPrivate", .double(f.pagesToPrivate)),
                ("flips", .double(f.flips)),
            ])
        }
        var fields: [(String, JSONValue)] = [
            ("version", .int(Int64(formatVersion))),
            ("source", .object([("kind", .string(source.kind.rawValue)), ("name", .string(source.name))]
                               + (source.kind == .live ? [("position", .string(source.position))] : []))),
            ("lines", .uint(source.lines)),
            ("events", .uint(t.events)),
            ("conversions", .uint(t.conversions)),
            ("toShared", .uint(t.toShared)),
            ("toPrivate", .uint(t.toPrivate)),
            ("pagesToShared", .uint(t.pagesToShared)),
            ("pagesToPrivate", .uint(t.pagesToPrivate)),
            ("rejected", .uint(t.rejected)),
            ("rejectedByReason", .object(t.rejectedByReason.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { ($0.key.rawValue, .uint($0.value)) })),
            ("otherHypercalls", .uint(t.otherHypercalls)),
            ("skipped", .uint(source.skippedLines)),
            ("malformed", .uint(source.malformedLines)),
            ("partialRecordBytes", .uint(source.partialRecordBytes)),
            ("lostEvents", .uint(t.lostEvents.addingSaturating(source.droppedEvents))),
            ("lostEventsExact", .bool(t.lossReportsWithoutCount == 0)),
            ("dropped", .uint(source.overflowedEvents)),
            ("rejectedTimes", .uint(t.rejectedTimes.addingSaturating(source.rejectedTimes))),
            ("anomalies", .object([
                ("reservedAttributeBits", .uint(t.reservedAttributeBitCalls)),
                ("beyondAddressSpace", .uint(t.beyondAddressSpaceCalls)),
            ])),
            ("timeUnit", .string(source.timeInSeconds ? "seconds" : "unknown")),
            ("firstEventTime", s.trackingSince.map { .double($0) } ?? .null),
            ("lastEventTime", .double(s.time)),
            ("guestSpan", .object([("start", .string(Hex.address(s.guestSpan.lower << GuestPage.shift))),
                                   ("pages", .uint(s.guestSpan.count))])),
            ("sharedPages", .uint(s.regions.sharedPages)),
            ("sharedBytes", .uint(GuestPage.bytes(s.regions.sharedPages))),
            ("regionCount", .int(Int64(s.regions.count))),
            ("approximate", .bool(s.regions.isApproximate)),
            ("rates", .array(s.rates.map(rate))),
            ("churn", .object([
                ("window", .double(s.churnWindow)),
                ("flips", .uint(s.totalFlips)),
                ("flipsPerSecond", .double(s.rates.last?.flips ?? 0)),
                ("mostFlipped", .array(s.mostFlipped.map {
                    .object([("gpa", .string(Hex.address($0.pages.lower << GuestPage.shift))),
                             ("pages", .uint($0.pages.count)), ("flips", .uint($0.flips))])
                })),
            ])),
            ("trackingCost", .object([
                ("bitmapBytes", .uint(s.trackingCost.bitmapBytes)),
                ("rangeListBytes", .uint(s.trackingCost.rangeListBytes)),
                ("regions", .int(Int64(s.trackingCost.regions))),
                ("peakRegions", .int(Int64(s.trackingCost.peakRegions))),
                ("peakRangeListBytes", .uint(s.trackingCost.peakRangeListBytes)),
            ])),
            ("poolWhatIf", .array(s.poolWhatIf.map {
                .object([("poolPages", .uint($0.poolPages)), ("conversionsAvoided", .uint($0.conversionsAvoided)),
                         ("fraction", .double($0.fractionOfConversions))])
            })),
            ("migration", migrationJSON(s.migration)),
        ]
        if includeRegions {
            fields.append(("regions", .array(s.regions.map(regionJSON))))
        }
        return .object(fields)
    }

    /// The same text as `json(...).serialized(pretty: true)`, but the region list (a million
    /// entries for a fragmented guest) is streamed to `write` in chunks instead of being built
    /// as one value and one string: memory stays proportional to a chunk, not to the regions.
    public static func writePrettyJSON(_ s: MonitorSnapshot, source: SourceStatus, chunkRegions: Int = 4096,
                                       to write: (String) -> Void) {
        var head = json(s, source: source, includeRegions: false).serialized(pretty: true)
        head.removeLast(2)  // "\n}"
        guard !s.regions.isEmpty else {
            write(head + ",\n  \"regions\": []\n}")
            return
        }
        var chunk = head + ",\n  \"regions\": ["
        var n = 0
        for r in s.regions {
            chunk += (n == 0 ? "\n    " : ",\n    ") + regionJSON(r).serialized()
            n += 1
            if n % chunkRegions == 0 { write(chunk); chunk = "" }
        }
        write(chunk + "\n  ]\n}")
    }

    static func regionJSON(_ r: SharedRegion) -> JSONValue {
        .object([("gpa", .string(Hex.address(r.pages.lower << GuestPage.shift))), ("pages", .uint(r.pages.count))]
                + (r.isApproximate ? [("approximate", .bool(true))] : []))
    }

    static func migrationJSON(_ m: MigrationTracker) -> JSONValue {
        guard m.isActive else { return .null }
        var fields: [(String, JSONValue)] = []
        if let p = m.latest {
            fields += [
                ("status", .string(p.status.rawValue)), ("pass", .int(Int64(p.pass))),
                ("ramTransferredBytes", .uint(p.ramTransferredBytes)), ("ramRemainingBytes", .uint(p.ramRemainingBytes)),
                ("ramTotalBytes", .uint(p.ramTotalBytes)), ("dirtyPagesPerSecond", .double(p.dirtyPagesPerSecond)),
                ("bandwidthBytesPerSecond", .double(p.bandwidthBytesPerSecond)),
                ("downtimeSeconds", p.downtimeSeconds.map { .double($0) } ?? .null),
                ("setupSeconds", p.setupSeconds.map { .double($0) } ?? .null),
                ("note", p.note.map { .string($0) } ?? .null),
            ]
        }
        fields += [("migrationsSeen", .int(Int64(m.migrationsSeen))), ("droppedPassSummaries", .uint(m.droppedPassSummaries))]
        fields.append(("passes", .array(m.passes.map { ps in
            var f: [(String, JSONValue)] = [("pass", .int(Int64(ps.pass))), ("time", .double(ps.time)),
                                            ("observedStateChanges", .uint(ps.observedStateChanges)),
                                            ("conversionsSincePreviousSync", .uint(ps.conversionsSincePreviousSync)),
                                            ("regionsAtSync", .int(Int64(ps.regionsAtSync)))]
            if let r = ps.record {
                f += [("stopAndCopy", .bool(r.isStopAndCopy)), ("startTime", .double(r.startTime)), ("endTime", .double(r.endTime)),
                      ("pagesSent", .uint(r.pagesSent)), ("sharedPagesSent", .uint(r.sharedPagesSent)),
                      ("pagesDirtied", .uint(r.pagesDirtied)), ("pagesResentForEncryption", .uint(r.pagesResentForEncryption)),
                      ("pagesChangedState", .uint(r.pagesChangedState)),
                      ("resyncBitmapBytes", .uint(r.resyncBitmapBytes)), ("resyncRangeListBytes", .uint(r.resyncRangeListBytes))]
            }
            return .object(f)
        })))
        return .object(fields)
    }

    /// The readable summary printed by `encmon replay FILE` when not interactive.
    public static func text(_ s: MonitorSnapshot, source: SourceStatus, regionLimit: Int = 20) -> String {
        let t = s.totals
        var lines: [String] = []
        func row(_ k: String, _ v: String) { lines.append(k.padding(28) + v) }
        lines.append("encmon summary: \(source.name)")
        row("lines read", "\(source.lines) (skipped \(source.skippedLines), malformed \(source.malformedLines))")
        if let since = s.trackingSince {
            row("event time", "\(ByteFormat.formatFixed(since, digits: 6)) .. \(ByteFormat.formatFixed(s.time, digits: 6))"
                + (source.timeInSeconds ? " s" : " (unit unknown: trace clock not in seconds, or no time column)"))
        }
        row("conversions", "\(t.conversions) (to shared \(t.toShared), to private \(t.toPrivate))")
        row("pages converted", "to shared \(t.pagesToShared), to private \(t.pagesToPrivate)")
        row("rejected hypercalls", t.rejected == 0 ? "0" :
            "\(t.rejected) (" + t.rejectedByReason.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ") + ")")
        if t.otherHypercalls > 0 { row("other hypercalls", "\(t.otherHypercalls)") }
        if source.partialRecordBytes > 0 { row("cut-off record", "\(source.partialRecordBytes) bytes dropped") }
        if let lost = t.lossText(sourceDropped: source.droppedEvents) { row("lost events", lost) }
        if source.overflowedEvents > 0 { row("dropped events", "\(source.overflowedEvents) (encmon fell behind the source)") }
        let badTimes = t.rejectedTimes.addingSaturating(source.rejectedTimes)
        if badTimes > 0 { row("refused times", "\(badTimes) events with a non-finite or absurd time") }
        if t.reservedAttributeBitCalls > 0 || t.beyondAddressSpaceCalls > 0 {
            row("applied anomalies", "reserved attribute bits \(t.reservedAttributeBitCalls), beyond 64-bit space \(t.beyondAddressSpaceCalls)")
        }
        row("shared now", "\(ByteFormat.human(GuestPage.bytes(s.regions.sharedPages))) in \(s.regions.count) region\(s.regions.count == 1 ? "" : "s")"
            + (s.regions.isApproximate ? " (APPROXIMATE: region cap reached)" : ""))
        row("guest span", "\(s.guestSpan) (\(ByteFormat.human(s.guestSpan.byteCount)))")
        let unit = source.timeInSeconds ? "s" : "time unit (unknown)"
        for f in s.rates {
            row("rate over \(f.window) \(source.timeInSeconds ? "s" : "units")",
                "\(fmt(f.calls)) calls/\(unit), \(fmt(f.pages)) pages/\(unit), \(fmt(f.flips)) flips/\(unit)")
        }
        row("flips", "\(s.totalFlips) (buffer made shared and private again within \(fmt(s.churnWindow)) s)")
        for b in s.mostFlipped.prefix(5) {
            row("  most flipped", "\(Hex.address(b.pages.lower << GuestPage.shift)) +\(b.pages.count) pages: \(b.flips) flips")
        }
        let c = s.trackingCost
        row("tracking cost", "bitmap \(ByteFormat.human(c.bitmapBytes)), range list \(ByteFormat.human(c.rangeListBytes)) (peak \(c.peakRegions) regions, \(ByteFormat.human(c.peakRangeListBytes)))")
        for w in s.poolWhatIf {
            row("  pool of \(w.poolPages) pages", "would avoid \(w.conversionsAvoided) conversions (\(fmt(w.fractionOfConversions * 100))%)")
        }
        if s.migration.isActive {
            if let p = s.migration.latest {
                row("migration", "\(p.status.rawValue), pass \(p.pass), sent \(ByteFormat.human(p.ramTransferredBytes)) of \(ByteFormat.human(p.ramTotalBytes))"
                    + (p.setupSeconds.map { ", setup \(fmt($0 * 1000)) ms" } ?? "")
                    + (p.downtimeSeconds.map { ", downtime \(fmt($0 * 1000)) ms" } ?? "") + (p.note.map { " (\($0))" } ?? ""))
            }
            for ps in s.migration.passes {
                var d = "conversions \(ps.conversionsSincePreviousSync), state changes \(ps.observedStateChanges)"
                if let r = ps.record {
                    d = "sent \(r.pagesSent) pages, dirtied \(r.pagesDirtied), re-sent for encryption \(r.pagesResentForEncryption), " + d
                }
                row("  pass \(ps.pass)", d)
            }
        }
        lines.append("")
        lines.append("shared regions (\(s.regions.count)\(s.regions.count > regionLimit ? ", first \(regionLimit)" : "")):")
        for (i, r) in s.regions.enumerated() {
            if i >= regionLimit { break }
            lines.append("  \(Hex.address(r.pages.lower << GuestPage.shift).padding(20)) \(String(r.pages.count).padding(10)) pages  \(ByteFormat.human(r.pages.byteCount))" + (r.isApproximate ? "  approximate" : ""))
        }
        return lines.joined(separator: "\n")
    }

    static func fmt(_ v: Double) -> String { ByteFormat.formatFixed(v, digits: v < 10 ? 2 : (v < 100 ? 1 : 0)) }
}

extension String {
    public func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}

extension MonitorTotals {
    /// `12`, `≥ 12` (some reports gave no number), `unknown` (none did), or nil without loss.
    public func lossText(sourceDropped: UInt64 = 0) -> String? {
        let known = lostEvents.addingSaturating(sourceDropped)
        if lossReportsWithoutCount == 0 { return known == 0 ? nil : "\(known)" }
        return known == 0 ? "unknown" : "≥ \(known)"
    }
}
