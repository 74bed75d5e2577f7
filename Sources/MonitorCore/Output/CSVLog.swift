/// Log mode (`--csv`), like `kvm_stat -l -c` and `virt-top --csv`: one header line, then one row
/// per refresh with the screen header's figures and the rates. A pure function of the snapshot,
/// so every source (replay, demo, live) logs the same columns.
///
/// Columns are fixed (a spreadsheet keeps its formulas); a value the source does not have is an
/// empty field. Numbers are plain decimals, rates with up to 3 decimals; no quoting is needed
/// except for `migration_status`, which is a fixed word.
public enum CSVLog {
    public struct Column: Sendable {
        public let name: String
        public let meaning: String
        let value: @Sendable (MonitorSnapshot, SourceStatus) -> String
    }

    /// The columns in order; `README.md` documents the same list.
    public static let columns: [Column] = [
        Column(name: "time", meaning: "event time, seconds since the first event") { s, _ in decimal(s.time - (s.trackingSince ?? s.time)) },
        Column(name: "events", meaning: "events applied so far") { s, _ in "\(s.totals.events)" },
        Column(name: "shared_bytes", meaning: "bytes shared now") { s, _ in "\(s.regions.sharedPages * GuestPage.size)" },
        Column(name: "regions", meaning: "shared regions now") { s, _ in "\(s.regions.count)" },
        Column(name: "conversions", meaning: "accepted conversion requests so far") { s, _ in "\(s.totals.conversions)" },
        Column(name: "lost_events", meaning: "events the tracer reported lost") { s, _ in "\(s.totals.lostEvents)" },
        Column(name: "calls_to_shared_1s", meaning: "conversions to shared per second, last complete second") { s, _ in rate(s, 1, \.callsToShared) },
        Column(name: "calls_to_private_1s", meaning: "conversions to private per second, last complete second") { s, _ in rate(s, 1, \.callsToPrivate) },
        Column(name: "pages_to_shared_1s", meaning: "pages made shared per second, last complete second") { s, _ in rate(s, 1, \.pagesToShared) },
        Column(name: "pages_to_private_1s", meaning: "pages made private per second, last complete second") { s, _ in rate(s, 1, \.pagesToPrivate) },
        Column(name: "flips_1s", meaning: "flips per second, last complete second") { s, _ in rate(s, 1, \.flips) },
        Column(name: "calls_to_shared_10s", meaning: "conversions to shared per second over 10 s") { s, _ in rate(s, 10, \.callsToShared) },
        Column(name: "calls_to_private_10s", meaning: "conversions to private per second over 10 s") { s, _ in rate(s, 10, \.callsToPrivate) },
        Column(name: "flips_10s", meaning: "flips per second over 10 s") { s, _ in rate(s, 10, \.flips) },
        Column(name: "migration_status", meaning: "none, setup, active, pre-copy, stop-and-copy, completed, failed, cancelled") { s, _ in
            s.migration.latest?.status.rawValue ?? "none"
        },
        Column(name: "migration_pass", meaning: "pre-copy pass") { s, _ in s.migration.latest.map { "\($0.pass)" } ?? "" },
        Column(name: "migration_sent_bytes", meaning: "RAM sent in all passes so far (can exceed guest RAM)") { s, _ in
            s.migration.latest.map { "\($0.ramTransferredBytes)" } ?? ""
        },
        Column(name: "migration_remaining_bytes", meaning: "RAM left to send in the running pass") { s, _ in
            s.migration.latest.map { "\($0.ramRemainingBytes)" } ?? ""
        },
        Column(name: "migration_dirty_pages_per_s", meaning: "pages dirtied per second") { s, _ in
            s.migration.latest.map { decimal($0.dirtyPagesPerSecond) } ?? ""
        },
        Column(name: "resent_for_encryption_pages", meaning: "pages re-sent because their state changed, all finished passes") { s, _ in
            s.migration.isActive ? "\(s.migration.passes.reduce(UInt64(0)) { $0 &+ ($1.record?.pagesResentForEncryption ?? 0) })" : ""
        },
    ]

    public static var header: String { columns.map(\.name).joined(separator: ",") }

    public static func row(_ snapshot: MonitorSnapshot, source: SourceStatus) -> String {
        columns.map { $0.value(snapshot, source) }.joined(separator: ",")
    }

    private static func rate(_ s: MonitorSnapshot, _ window: Int, _ pick: KeyPath<RateFigures, Double>) -> String {
        decimal(s.rates.first { $0.window == window }?[keyPath: pick] ?? 0)
    }

    /// Up to 3 decimals, no exponent, no trailing zeros; non-finite values as empty fields.
    static func decimal(_ v: Double) -> String {
        guard v.isFinite else { return "" }
        let scaled = (v * 1000).rounded()
        guard abs(scaled) < 9e15 else { return abs(v) < 9e18 ? String(Int64(v.rounded())) : "" }
        let n = Int64(scaled)
        let sign = n < 0 ? "-" : ""
        let m = n.magnitude
        var frac = String(m % 1000)
        frac = String(repeating: "0", count: 3 - frac.count) + frac
        while frac.hasSuffix("0") { frac.removeLast() }
        return sign + String(m / 1000) + (frac.isEmpty ? "" : "." + frac)
    }
}
