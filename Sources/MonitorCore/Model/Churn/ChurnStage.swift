/// The churn tracker as a pipeline stage ahead of the model. A batch replay runs it on the
/// parsing thread: it observes each batch's conversions in file order and marks those that
/// complete a flip, and the model, on the other core, takes the flips from the records instead
/// of asking its own tracker. That moves about a seventh of the applying thread's work to the
/// parsing thread, which had room (see BENCHMARKS.md, issue 14).
///
/// The tracker gives the same answers as in the model: it sees only conversions, in the same
/// order, with the same times (the model's `isUsableTime` gate is applied here too), and
/// nothing else in the model reads or changes it while the stage holds it
/// (`Monitor.detachChurn`/`attach`).
public struct ChurnStage: Sendable {
    public private(set) var tracker: ChurnTracker

    public init(_ tracker: ChurnTracker) { self.tracker = tracker }

    /// Observes the batch's conversions and sets their `completesFlip`; once per batch.
    public mutating func observe(_ batch: inout TraceEventBatch) {
        guard !batch.churnObserved else { return }
        batch.withMutableConversions { records in
            for i in records.indices where Monitor.isUsableTime(records[i].time) {
                let r = records[i]
                records[i].completesFlip = tracker.observe(first: r.pages.lower, pages: r.pages.count, time: r.time,
                                                           toShared: r.direction == .toShared) > 0
            }
        }
        batch.churnObserved = true
    }
}
