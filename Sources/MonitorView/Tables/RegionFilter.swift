import MonitorCore

/// The `/` filter of the region table: terms separated by spaces, all of which must hold.
///
/// - an address range `0x7f000000-0x80000000`, `4G-6G` (end exclusive), or one address
///   `0x1f000000` (the region holding it): regions overlapping it;
/// - `size>64K`, `size<=4K` (bytes, K/M/G/T binary units; `>`, `>=`, `<`, `<=`, `=`);
/// - `flips>0`, `flips>=10` (flips of the region's pages in the churn window's history).
///
/// Addresses are hex (`0x1f000000`, `1f000000`) or decimal, with an optional K/M/G/T suffix.
public struct RegionFilter: Sendable, Hashable {
    public enum Comparison: String, Sendable, Hashable, CaseIterable {
        case atLeast = ">=", atMost = "<=", more = ">", less = "<", equal = "="

        func holds(_ a: UInt64, _ b: UInt64) -> Bool {
            switch self {
            case .atLeast: a >= b
            case .atMost: a <= b
            case .more: a > b
            case .less: a < b
            case .equal: a == b
            }
        }
    }

    public enum ParseError: Error, Hashable, CustomStringConvertible {
        case empty
        case badTerm(String)
        case badAddress(String, AddressFilter.ParseError)
        case emptyRange(String)

        public var description: String {
            switch self {
            case .empty: "type a filter: 0x7f000000-0x80000000, size>64K, flips>0"
            case .badTerm(let t): "'\(t)': use an address range (4G-6G), size>64K or flips>0"
            case .badAddress(_, let e): e.description
            case .emptyRange(let t): "'\(t)' is an empty range: the end must be above the start"
            }
        }
    }

    /// Guest pages the regions must overlap; nil: anywhere.
    public var pages: PageRange?
    /// Region size in bytes compared with a value.
    public var sizeTerm: Term?
    /// Flips of the region's pages compared with a value.
    public var flipsTerm: Term?

    public struct Term: Sendable, Hashable {
        public var op: Comparison
        public var value: UInt64
        public init(_ op: Comparison, _ value: UInt64) { self.op = op; self.value = value }
    }

    public static func parse(_ text: String) -> Result<RegionFilter, ParseError> {
        let terms = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard !terms.isEmpty else { return .failure(.empty) }
        var f = RegionFilter()
        for term in terms {
            let lower = term.lowercased()
            for (name, set) in [("size", true), ("flips", false)] where lower.hasPrefix(name) {
                let rest = String(lower.dropFirst(name.count))
                guard let op = Comparison.allCases.first(where: { rest.hasPrefix($0.rawValue) }) else { return .failure(.badTerm(term)) }
                let valueText = String(rest.dropFirst(op.rawValue.count))
                if set {
                    switch AddressFilter.parse(valueText) {
                    case .success(let bytes): f.sizeTerm = Term(op, bytes)
                    case .failure(let e): return .failure(.badAddress(term, e))
                    }
                } else {
                    guard let n = UInt64(valueText) else { return .failure(.badTerm(term)) }
                    f.flipsTerm = Term(op, n)
                }
            }
            if lower.hasPrefix("size") || lower.hasPrefix("flips") { continue }
            // An address range "A-B", or one address.
            let parts = term.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            var bounds: [UInt64] = []
            for p in parts {
                switch AddressFilter.parse(p) {
                case .success(let a): bounds.append(a)
                case .failure(let e): return .failure(parts.count == 1 || !p.isEmpty ? .badAddress(term, e) : .badTerm(term))
                }
            }
            let lo = bounds[0] >> GuestPage.shift
            let hi = bounds.count == 2 ? (bounds[1] >> GuestPage.shift) + (bounds[1] & (GuestPage.size - 1) == 0 ? 0 : 1) : lo + 1
            guard hi > lo else { return .failure(.emptyRange(term)) }
            f.pages = PageRange(lower: lo, upper: hi)
        }
        return .success(f)
    }

    /// Whether `region` passes every term (the address term is applied by the caller's scan).
    func admits(_ region: SharedRegion, flipIndex: FlipIndex) -> Bool {
        if let p = pages, !region.pages.overlaps(p) { return false }
        if let s = sizeTerm, !s.op.holds(region.pages.count &* GuestPage.size, s.value) { return false }
        if let f = flipsTerm, !f.op.holds(flipIndex.flips(in: region.pages), f.value) { return false }
        return true
    }
}
