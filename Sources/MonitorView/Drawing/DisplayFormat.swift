import MonitorCore

/// Short numbers for narrow columns. Pure, Foundation-free.
enum DisplayFormat {
    /// 999, 1.2k, 45.6k, 1.2M, 3.4G
    static func count(_ n: UInt64) -> String {
        if n < 10_000 { return String(n) }
        return scaled(Double(n))
    }

    /// A per-second rate: 0, 0.50, 12.3, 340, 1.2k
    static func rate(_ x: Double) -> String {
        guard x.isFinite else { return "-" }
        if x == 0 { return "0" }
        if x < 10 { return ByteFormat.formatFixed(x, digits: 2) }
        if x < 100 { return ByteFormat.formatFixed(x, digits: 1) }
        if x < 10_000 { return ByteFormat.formatFixed(x, digits: 0) }
        return scaled(x)
    }

    private static func scaled(_ x: Double) -> String {
        let units = ["k", "M", "G", "T", "P"]
        var v = x / 1000, i = 0
        while v >= 1000, i < units.count - 1 { v /= 1000; i += 1 }
        return ByteFormat.formatFixed(v, digits: v < 100 ? 1 : 0) + units[i]
    }

    /// 0.4s, 12s, 3m20s, 1h02m, 2d03h
    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "-" }
        let s = max(0, s)
        if s < 10 { return ByteFormat.formatFixed(s, digits: 1) + "s" }
        let t = Int(s)
        if t < 60 { return "\(t)s" }
        if t < 3600 { return "\(t / 60)m" + two(t % 60) + "s" }
        if t < 86_400 { return "\(t / 3600)h" + two(t / 60 % 60) + "m" }
        return "\(t / 86_400)d" + two(t / 3600 % 24) + "h"
    }

    /// Event time as seconds with one decimal, or h:mm:ss past an hour.
    static func eventTime(_ t: Double) -> String {
        guard t.isFinite else { return "-" }
        if abs(t) < 3600 { return ByteFormat.formatFixed(t, digits: 1) + "s" }
        let s = Int(t)
        return "\(s / 3600):" + two(s / 60 % 60) + ":" + two(s % 60)
    }

    static func percent(_ f: Double) -> String {
        guard f.isFinite else { return "-" }
        let p = f * 100
        return (p > 0 && p < 10 ? ByteFormat.formatFixed(p, digits: 1) : ByteFormat.formatFixed(p, digits: 0)) + "%"
    }

    static func bytes(_ b: UInt64) -> String { ByteFormat.human(b) }
    static func pagesAsBytes(_ p: UInt64) -> String { ByteFormat.human(Double(p) * Double(GuestPage.size)) }

    /// Guest-physical byte address of a page number.
    static func address(page: UInt64) -> String { Hex.address(page << GuestPage.shift) }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : String(n) }

    static func padLeft(_ s: String, _ w: Int) -> String {
        let n = s.unicodeScalars.count
        return n >= w ? s : String(repeating: " ", count: w - n) + s
    }
    static func padRight(_ s: String, _ w: Int) -> String {
        let n = s.unicodeScalars.count
        return n >= w ? s : s + String(repeating: " ", count: w - n)
    }
}
