import MonitorCore

/// Reply lines of protocol version 1. Every reply carries `"v":1` and the request's `"id"`;
/// `"ok":false` replies carry `"error":{"code","message"}`.
public enum DaemonReply {
    /// `{"v":1,"id":N,"ok":true, fields...}`
    public static func ok(id: Int64, _ fields: [(String, JSONValue)]) -> String {
        JSONValue.object([("v", .int(Int64(DaemonRequest.version))), ("id", .int(id)), ("ok", .bool(true))] + fields).serialized()
    }

    /// `{"v":1,"id":N|null,"ok":false,"error":{"code":C,"message":M}}`
    public static func error(_ e: DaemonProtocolError) -> String {
        JSONValue.object([
            ("v", .int(Int64(DaemonRequest.version))), ("id", e.id.map { .int($0) } ?? .null), ("ok", .bool(false)),
            ("error", .object([("code", .string(e.code)), ("message", .string(e.description))])),
        ]).serialized()
    }

    /// The answer to `subscribe`: `{"v":1,"id":N,"ok":true,"vm":{...},"model":MODEL}` where MODEL is
    /// the model state (MonitorCore's `Monitor` Codable form) the updates continue.
    public static func subscribed(id: Int64, info: JSONValue, model: [UInt8]) -> [UInt8] {
        var head = Array(ok(id: id, [("vm", info)]).utf8)
        head.removeLast()  // the closing brace: the model follows as one more field
        return head + Array(#","model":"#.utf8) + model + [UInt8(ascii: "}")]
    }

    /// A subscription update: `{"v":1,"id":N,"events":["RECORD", ...]}` with encmon recording lines.
    public static func events(id: Int64, lines: [String]) -> String {
        JSONValue.object([("v", .int(Int64(DaemonRequest.version))), ("id", .int(id)), ("events", .array(lines.map { .string($0) }))]).serialized()
    }

    /// After a subscription's history: what follows is live. `{"v":1,"id":N,"live":true}`.
    public static func live(id: Int64) -> String {
        JSONValue.object([("v", .int(Int64(DaemonRequest.version))), ("id", .int(id)), ("live", .bool(true))]).serialized()
    }

    /// The end of a subscription: `{"v":1,"id":N,"exited":true}`.
    public static func exited(id: Int64) -> String {
        JSONValue.object([("v", .int(Int64(DaemonRequest.version))), ("id", .int(id)), ("exited", .bool(true))]).serialized()
    }

    /// What `list` and the other replies say of one process.
    public static func info(_ p: TrackedProcess) -> JSONValue {
        let m = p.monitor
        return .object([
            ("pid", .int(Int64(p.identity.pid))),
            ("name", .string(p.header.name)),
            ("startTicks", .uint(p.identity.startTicks)),
            ("trackingSinceStart", .bool(p.header.sawStart)),
            ("firstEventTime", m.origin.map { .double($0) } ?? .null),
            ("lastEventTime", .double(m.now)),
            ("incompleteSince", p.incompleteSince.map { .double($0) } ?? .null),
            ("exited", .bool(p.exited)),
            ("events", .uint(m.totals.events)),
            ("sharedBytes", .uint(m.regions.sharedPages << GuestPage.shift)),
            ("regions", .int(Int64(m.regions.count))),
        ])
    }

    /// The source status a viewer shows for a process served by the daemon.
    public static func sourceStatus(_ p: TrackedProcess) -> SourceStatus {
        SourceStatus(kind: .daemon, name: "\(p.header.name) (pid \(p.identity.pid))",
                     position: trackingText(sawStart: p.header.sawStart, incompleteSince: p.incompleteSince, exited: p.exited),
                     lines: p.monitor.totals.events)
    }

    /// "tracking since VM start", "tracking since first seen", "... incomplete since T", "... exited".
    public static func trackingText(sawStart: Bool, incompleteSince: EventTime?, exited: Bool) -> String {
        var s = sawStart ? "tracking since VM start" : "tracking since first seen"
        if let t = incompleteSince { s += ", incomplete since t=\(t)" }
        if exited { s += ", exited" }
        return s
    }
}
