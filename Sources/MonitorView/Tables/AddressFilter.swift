import MonitorCore

/// The `/` filter: a guest-physical address typed as hex (`0x1f000000`, `1f000000`) or decimal
/// (`4096`), optionally scaled by a K/M/G/T suffix (binary units: `4G`, `0x10M`).
public enum AddressFilter {
    public enum ParseError: Error, Hashable, CustomStringConvertible {
        case empty
        case notANumber(String)
        case tooLarge(String)

        public var description: String {
            switch self {
            case .empty: "type an address"
            case .notANumber(let t): "'\(t)' is not an address: type hex (0x1f000000) or decimal, K/M/G suffix allowed"
            case .tooLarge(let t): "'\(t)' is beyond the 64-bit guest-physical space"
            }
        }
    }

    /// The byte address the text names.
    public static func parse(_ text: String) -> Result<UInt64, ParseError> {
        var t = Substring(text.filter { $0 != " " && $0 != "_" && $0 != "\t" })
        guard !t.isEmpty else { return .failure(.empty) }
        let original = String(text.prefix(24))
        var shift: UInt64 = 0
        // Optional binary-unit suffix, with an optional trailing "iB"/"B" (4GiB, 4GB, 4G).
        let lower = t.lowercased()
        for (suffix, s) in [("kib", 10), ("mib", 20), ("gib", 30), ("tib", 40),
                            ("kb", 10), ("mb", 20), ("gb", 30), ("tb", 40),
                            ("k", 10), ("m", 20), ("g", 30), ("t", 40)] as [(String, UInt64)] {
            if lower.hasSuffix(suffix), lower.count > suffix.count {
                // "0x1b" ends in a hex digit: a lone "b" suffix is never taken.
                t = t.dropLast(suffix.count); shift = s; break
            }
        }
        var radix = 10
        if t.hasPrefix("0x") || t.hasPrefix("0X") { t = t.dropFirst(2); radix = 16 }
        else if t.contains(where: { "abcdefABCDEF".contains($0) }) { radix = 16 }
        guard !t.isEmpty, t.allSatisfy({ $0.isHexDigit && (radix == 16 || $0.isNumber) }) else {
            return .failure(.notANumber(original))
        }
        guard let v = UInt64(t, radix: radix) else { return .failure(.tooLarge(original)) }
        if shift > 0 && v > (UInt64.max >> shift) { return .failure(.tooLarge(original)) }
        return .success(v << shift)
    }
}
