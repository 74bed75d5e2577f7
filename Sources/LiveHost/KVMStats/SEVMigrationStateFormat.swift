import MonitorCore

/// The shared-page state that the 2020-21 AMD SEV live-migration series (never merged) let the
/// VMM read from KVM, decoded from plain buffers. Two layouts changed between revisions:
/// - v10 (Feb 2021) `KVM_GET_SHARED_PAGES_LIST`: entries `{unsigned long gfn_start, gfn_end}`,
///   end exclusive, the shared ranges themselves;
/// - earlier `KVM_GET_PAGE_ENC_BITMAP`: one bit per page from `start_gfn`, set = encrypted
///   (the kernel's default), clear = shared; an `unsigned long` bitmap, so LSB-first per byte on x86.
public enum SEVMigrationStateFormat {
    /// Bytes of one v10 list entry (two 64-bit `unsigned long`s).
    public static let listEntrySize = 16

    /// The shared ranges of a v10 list holding `count` entries; sorted and coalesced.
    public static func sharedRanges(list bytes: [UInt8], count: Int) throws(SEVMigrationStateError) -> [PageRange] {
        guard count >= 0, count <= bytes.count / listEntrySize else {
            throw .truncated(needed: count.multipliedReportingOverflow(by: listEntrySize).partialValue, available: bytes.count)
        }
        var ranges: [PageRange] = []
        ranges.reserveCapacity(count)
        for i in 0..<count {
            let start = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * listEntrySize, as: UInt64.self) }
            let end = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * listEntrySize + 8, as: UInt64.self) }
            guard start < end, end <= PageRange.maxPage else { throw .badEntry(index: i, start: start, end: end) }
            ranges.append(PageRange(lower: start, upper: end))
        }
        return coalesced(ranges)
    }

    /// The shared (clear-bit) ranges of a bitmap covering `pageCount` pages from `startGFN`.
    public static func sharedRanges(bitmap: [UInt8], startGFN: UInt64, pageCount: UInt64) throws(SEVMigrationStateError) -> [PageRange] {
        let neededBytes = pageCount / 8 + (pageCount % 8 == 0 ? 0 : 1)
        guard neededBytes <= UInt64(bitmap.count) else { throw .truncated(needed: Int(clamping: neededBytes), available: bitmap.count) }
        guard startGFN <= PageRange.maxPage, pageCount <= PageRange.maxPage - startGFN else {
            throw .badBitmapSpan(startGFN: startGFN, pageCount: pageCount)
        }
        var ranges: [PageRange] = []
        var runStart: UInt64?
        var page: UInt64 = 0
        while page < pageCount {
            let byte = bitmap[Int(page / 8)]
            // Whole bytes at a time where the byte is uniform and fully inside the span.
            if page % 8 == 0, page + 8 <= pageCount, byte == 0 || byte == 0xFF {
                if byte == 0 { runStart = runStart ?? page } else if let s = runStart {
                    ranges.append(PageRange(lower: startGFN + s, upper: startGFN + page)); runStart = nil
                }
                page += 8
                continue
            }
            let encrypted = byte & (1 << UInt8(page % 8)) != 0
            if !encrypted { runStart = runStart ?? page } else if let s = runStart {
                ranges.append(PageRange(lower: startGFN + s, upper: startGFN + page)); runStart = nil
            }
            page += 1
        }
        if let s = runStart { ranges.append(PageRange(lower: startGFN + s, upper: startGFN + pageCount)) }
        return ranges
    }

    /// Sorted, with overlapping and adjacent ranges merged.
    static func coalesced(_ ranges: [PageRange]) -> [PageRange] {
        var out: [PageRange] = []
        for r in ranges.sorted(by: { $0.lower < $1.lower }) {
            if let last = out.last, r.lower <= last.upper {
                out[out.count - 1] = PageRange(lower: last.lower, upper: max(last.upper, r.upper))
            } else {
                out.append(r)
            }
        }
        return out
    }

    /// The state as model events: a marker naming the read, then one conversion to shared per
    /// range, so the model starts from the full shared set instead of "tracking since".
    public static func events(_ ranges: [PageRange], source: String, time: EventTime, pid: Int32) -> [MonitorEvent] {
        [.marker(time: time, text: "full read at attach: \(source), \(ranges.count) shared ranges")]
            + ranges.map { .conversion(Conversion(time: time, pages: $0, direction: .toShared, pid: pid, path: .hypercall)) }
    }
}

public enum SEVMigrationStateError: Error, Sendable, Hashable, CustomStringConvertible {
    case truncated(needed: Int, available: Int)
    case badEntry(index: Int, start: UInt64, end: UInt64)
    case badBitmapSpan(startGFN: UInt64, pageCount: UInt64)

    public var description: String {
        switch self {
        case .truncated(let needed, let available): "SEV shared-page state: needs \(needed) bytes, got \(available)"
        case .badEntry(let i, let s, let e): "SEV shared-page list entry \(i): gfn \(Hex.address(s))..<\(Hex.address(e)) is empty or past 2^52"
        case .badBitmapSpan(let s, let n): "SEV page-encryption bitmap: \(n) pages from gfn \(Hex.address(s)) pass 2^52"
        }
    }
}
