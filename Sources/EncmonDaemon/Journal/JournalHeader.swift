import MonitorCore

/// What a journal says about its process, in a `#` comment under the recording header, so the
/// journal stays a plain encmon recording that `encmon replay` reads:
/// `# encmon-daemon pid=PID start-ticks=TICKS saw-start=0|1 name=STR generation=N`.
/// `generation` counts compactions: the journal continues the model state file of the same
/// generation (`PID-TICKS.state`), or starts from nothing at generation 0.
public struct JournalHeader: Sendable, Hashable {
    public var identity: ProcessIdentity
    /// True when the daemon was running when the process started: the model holds its whole life.
    public var sawStart: Bool
    public var name: String
    public var generation: UInt64

    static let prefix = "encmon-daemon "

    public init(identity: ProcessIdentity, sawStart: Bool, name: String, generation: UInt64 = 0) {
        self.identity = identity; self.sawStart = sawStart; self.name = name; self.generation = generation
    }

    /// The comment text (without `# `).
    var commentText: String {
        "encmon-daemon pid=\(identity.pid) start-ticks=\(identity.startTicks) saw-start=\(sawStart ? 1 : 0) name=\(RecordingFormat.escape(name)) generation=\(generation)"
    }

    /// Parses the comment line (with its `# `); nil for any other line.
    init?(commentLine line: Substring) {
        guard line.hasPrefix("# " + Self.prefix) else { return nil }
        var fields: [Substring: Substring] = [:]
        for f in line.dropFirst(2 + Self.prefix.count).split(separator: " ") {
            guard let eq = f.firstIndex(of: "=") else { return nil }
            fields[f[..<eq]] = f[f.index(after: eq)...]
        }
        guard let p = fields["pid"].flatMap({ Int32($0) }), p > 0,
              let t = fields["start-ticks"].flatMap({ UInt64($0) }),
              let s = fields["saw-start"], s == "0" || s == "1",
              let n = fields["name"].flatMap({ RecordingFormat.unescape($0) }) else { return nil }
        let g = fields["generation"].flatMap { UInt64($0) } ?? 0
        self.init(identity: ProcessIdentity(pid: p, startTicks: t), sawStart: s == "1", name: n, generation: g)
    }
}
