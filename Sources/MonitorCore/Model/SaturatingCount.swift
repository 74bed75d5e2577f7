/// Counters fed by guest-controlled sizes: a guest may ask for 2^52 pages per hypercall, so sums
/// of page counts stop at `UInt64.max` instead of trapping or wrapping.
extension UInt64 {
    /// `self + other`, or `UInt64.max` when that does not fit.
    @inline(__always)
    public func addingSaturating(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// `self * other`, or `UInt64.max` when that does not fit.
    @inline(__always)
    public func multipliedSaturating(by other: UInt64) -> UInt64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }

    @inline(__always)
    public mutating func addSaturating(_ other: UInt64) { self = addingSaturating(other) }
}

extension GuestPage {
    /// Bytes in `pages` pages, `UInt64.max` for the full 2^52-page span (2^64 bytes does not fit).
    @inline(__always)
    public static func bytes(_ pages: UInt64) -> UInt64 { pages.multipliedSaturating(by: size) }
}
