import MonitorCore
import MonitorView

/// The path every parsed event takes in encmon, run on fuzzed events: the model, its snapshot,
/// the JSON and text summaries and a frame of the screen. A trap anywhere here is a finding.
public enum FuzzPipeline {
    /// Applies `events` to a model with a small region cap (so the approximate path runs too),
    /// then renders what the CLI prints (JSON) and draws (a frame).
    public static func exercise(_ events: [MonitorEvent], status: SourceStatus, width: Int = 80, height: Int = 24) {
        var configuration = MonitorConfiguration()
        configuration.regionCap = 64
        var monitor = Monitor(configuration: configuration)
        for event in events { monitor.apply(event) }
        // Drawing costs far more than parsing; inputs without events draw nothing new.
        guard !events.isEmpty else { return }
        let snapshot = monitor.snapshot()
        _ = MonitorSummary.json(snapshot, source: status).serialized()
        _ = Screen.render(snapshot, source: status, state: ViewState(), width: width, height: height)
    }

    /// A status like the replay's, with the fuzzed counters.
    public static func status(lines: UInt64, skipped: UInt64, malformed: UInt64, lost: UInt64) -> SourceStatus {
        SourceStatus(kind: .replay, name: "fuzz", position: "line \(lines)", lines: lines, skippedLines: skipped,
                     malformedLines: malformed, droppedEvents: lost, finished: true)
    }
}
