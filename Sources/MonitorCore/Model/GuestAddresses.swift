/// Guest-physical addressing in 4 KiB pages, the unit every conversion interface uses.
///
/// Page numbers (GFNs) run from 0 to `PageRange.maxPage` (exclusive), which covers the whole
/// 64-bit guest-physical space: `maxPage << 12 == 2^64`.
public enum GuestPage {
    public static let shift: UInt64 = 12
    public static let size: UInt64 = 1 << shift
}

/// A half-open range of guest page numbers, `lower ..< upper`.
public struct PageRange: Hashable, Sendable, CustomStringConvertible {
    /// One past the last page of the 64-bit space (2^52).
    public static let maxPage: UInt64 = 1 << 52

    public var lower: UInt64
    public var upper: UInt64

    public init(lower: UInt64, upper: UInt64) {
        precondition(lower <= upper && upper <= PageRange.maxPage, "bad page range \(lower)..<\(upper)")
        self.lower = lower
        self.upper = upper
    }

    /// The pages `first ..< first + count`, clamped to the end of the 64-bit space.
    public init(first: UInt64, count: UInt64) {
        let lower = min(first, PageRange.maxPage)
        self.init(lower: lower, upper: count > PageRange.maxPage - lower ? PageRange.maxPage : lower + count)
    }

    public var count: UInt64 { upper - lower }
    public var isEmpty: Bool { lower == upper }
    /// Saturates at `UInt64.max` for the full 2^64-byte space.
    public var byteCount: UInt64 { GuestPage.bytes(count) }
    public func contains(_ page: UInt64) -> Bool { page >= lower && page < upper }
    public func overlaps(_ other: PageRange) -> Bool { lower < other.upper && other.lower < upper }
    public func clamped(to other: PageRange) -> PageRange {
        let lo = max(lower, other.lower), hi = min(upper, other.upper)
        return lo < hi ? PageRange(lower: lo, upper: hi) : PageRange(lower: lo, upper: lo)
    }

    public var description: String { "\(Hex.pageAddress(lower))-\(Hex.pageAddress(upper))" }
}

/// Formatting helpers shared by text output and JSON.
public enum Hex {
    /// `0x1f018000`
    public static func address(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
    /// The byte address where `page` starts; `PageRange.maxPage` (2^64, one past the last byte)
    /// prints as `0x10000000000000000` instead of wrapping to `0x0`.
    public static func pageAddress(_ page: UInt64) -> String {
        page >= PageRange.maxPage ? "0x1" + String(repeating: "0", count: 16) : address(page << GuestPage.shift)
    }
}

/// Sizes for humans: 4.0 KiB, 64 MiB, 1.5 GiB (binary units, like `free -h`).
public enum ByteFormat {
    public static func human(_ bytes: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = bytes, i = 0
        while abs(v) >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        guard v.isFinite else { return formatFixed(v, digits: 0) + " " + units[i] }
        if i == 0 { return "\(Int(v)) B" }
        let digits = v >= 100 ? 0 : (v >= 10 ? 1 : 2)
        return formatFixed(v, digits: digits) + " " + units[i]
    }
    public static func human(_ bytes: UInt64) -> String { human(Double(bytes)) }

    /// Fixed-point formatting without Foundation.
    public static func formatFixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        // Past 2^63 there are no fraction digits to show, and UInt64(scaled) would trap.
        guard scaled < 9.2e18 else { return value.description }
        let sign = value < 0 && scaled != 0 ? "-" : ""
        if digits == 0 { return sign + String(UInt64(scaled)) }
        let s = UInt64(scaled)
        let intPart = s / UInt64(scale), frac = s % UInt64(scale)
        var fracStr = String(frac)
        while fracStr.count < digits { fracStr = "0" + fracStr }
        return sign + String(intPart) + "." + fracStr
    }
}
