/// `query-migrate` as the monitor uses it (qapi/migration.json MigrationInfo).
public enum QMPMigrationInfo {
    /// The progress report a `query-migrate` reply stands for, stamped `time`; nil when no
    /// migration ever ran (QEMU then omits `status`). Throws on a status this encmon does not know.
    public static func progress(from reply: QMPJSON, time: EventTime) throws(QMPError) -> MigrationProgress? {
        guard let name = reply["status"]?.string else { return nil }
        guard let status = MigrationStatus(rawValue: name), status != .precopy, status != .stopAndCopy else {
            throw .malformed(reason: "unknown migration status", excerpt: name)
        }
        let ram = reply["ram"]
        func bytes(_ k: String) -> UInt64 { ram?[k]?.uint64 ?? 0 }
        func seconds(_ ms: QMPJSON?) -> Double? { ms?.double.map { $0 / 1000 } }
        // `downtime` once completed, `expected-downtime` while active (both milliseconds).
        let downtime = status == .completed ? seconds(reply["downtime"]) : seconds(reply["expected-downtime"])
        var note = reply["error-desc"]?.string
        if note == nil, case .array(let reasons)? = reply["blocked-reasons"], !reasons.isEmpty {
            note = "blocked: " + reasons.compactMap(\.string).joined(separator: "; ")
        }
        return MigrationProgress(
            time: time, status: status,
            pass: Int(clamping: ram?["dirty-sync-count"]?.uint64 ?? 0),
            ramTransferredBytes: bytes("transferred"), ramRemainingBytes: bytes("remaining"), ramTotalBytes: bytes("total"),
            dirtyPagesPerSecond: ram?["dirty-pages-rate"]?.double ?? 0,
            // `mbps` is megabits (10^6) per second.
            bandwidthBytesPerSecond: (ram?["mbps"]?.double ?? 0) * 1e6 / 8,
            downtimeSeconds: downtime, note: note, setupSeconds: seconds(reply["setup-time"]))
    }

    /// Whether the `events` migration capability is on (`query-migrate-capabilities`).
    public static func eventsEnabled(capabilities reply: QMPJSON) -> Bool {
        guard case .array(let items) = reply else { return false }
        return items.contains { $0["capability"]?.string == "events" && $0["state"]?.bool == true }
    }
}

/// What `query-sev` says about the guest.
public enum QMPSEVState: Sendable, Hashable, CustomStringConvertible {
    /// `"enabled": false` (QEMU 7.2 without SEV), or an error reply (other versions, other targets).
    case notSEV
    /// A SEV guest: its type (`sev`, `sev-snp`; nil before QEMU 9.1), firmware API and state
    /// (uninit, launch-update, launch-secret, running, send-update, receive-update).
    case sev(type: String?, apiMajor: UInt64, apiMinor: UInt64, state: String)

    public init(reply: QMPJSON) {
        guard reply["enabled"]?.bool == true else { self = .notSEV; return }
        self = .sev(type: reply["sev-type"]?.string, apiMajor: reply["api-major"]?.uint64 ?? 0,
                    apiMinor: reply["api-minor"]?.uint64 ?? 0, state: reply["state"]?.string ?? "?")
    }

    public var description: String {
        switch self {
        case .notSEV: "not a SEV guest"
        case .sev(let type, let major, let minor, let state): "\(type ?? "sev") guest, API \(major).\(minor), \(state)"
        }
    }
}
