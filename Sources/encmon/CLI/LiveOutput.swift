import SystemLibc
import MonitorCore

/// One JSON Lines record per refresh: the batch summary object with `since` after `source`.
enum LiveJSON {
    /// `since` is null when the whole state was read at attach.
    static func line(_ snapshot: MonitorSnapshot, source: SourceStatus, since: WallTime?, exited: Bool) -> String {
        guard case .object(var fields) = MonitorSummary.json(snapshot, source: source) else { return "{}" }
        let at = (fields.firstIndex { $0.0 == "source" } ?? -1) + 1
        fields.insert(("since", since.map { .string($0.iso8601) } ?? .null), at: at)
        fields.insert(("exited", .bool(exited)), at: at + 1)
        return JSONValue.object(fields).serialized()
    }
}

/// A wall-clock instant for "tracking since": local HH:MM:SS on screen, UTC ISO 8601 in JSON.
struct WallTime {
    var seconds: Int

    static func now() -> WallTime { WallTime(seconds: time(nil)) }

    var localClock: String { format("%H:%M:%S", utc: false) }
    var iso8601: String { format("%Y-%m-%dT%H:%M:%SZ", utc: true) }

    private func format(_ pattern: String, utc: Bool) -> String {
        var t = time_t(seconds)
        var parts = tm()
        if utc { gmtime_r(&t, &parts) } else { localtime_r(&t, &parts) }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
