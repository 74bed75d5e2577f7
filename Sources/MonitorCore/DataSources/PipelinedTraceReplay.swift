import Synchronization

/// Batch replay on two threads: a second thread reads and parses the file while the calling thread
/// applies events, so a replay takes about max(parse, apply) instead of their sum.
///
/// ```swift
/// let progress = TraceReplayProgress()
/// let result = try PipelinedTraceReplay.run(path: file, progress: progress) { batch in
///     monitor.apply(batch)
///     // progress.status is the position of the last batch handed over
/// }
/// ```
///
/// Events reach `body` in file order, exactly as `TraceReader` reads them sequentially.
public enum PipelinedTraceReplay {
    public static let defaultBatchSize = 16_384
    public static let defaultQueueDepth = 4

    /// Opens `path` (`-` = standard input) on the calling thread, so an open failure throws
    /// `TraceFileError.cannotOpen` before any thread starts. Then a parsing thread reads the input
    /// in batches of `batchSize` events (the last one shorter, none empty) and hands them over a
    /// queue of at most `queueDepth` batches to `body`, which runs on the calling thread.
    ///
    /// A read error on the parsing thread is rethrown here. An error thrown by `body` stops the
    /// parsing thread at its next hand-over (at most one batch of parsing later) and is rethrown
    /// once that thread has ended; it never outlives this call. (Reading a pipe, it ends when its
    /// current `read(2)` returns.)
    ///
    /// Memory: the reader's buffer plus at most `queueDepth + 2` batches.
    public static func run(path: String, chunkSize: Int = TraceReader.defaultChunkSize,
                           batchSize: Int = defaultBatchSize, queueDepth: Int = defaultQueueDepth,
                           progress: TraceReplayProgress? = nil, standInEvent: TraceEventName? = nil,
                           _ body: ([MonitorEvent]) throws -> Void) throws -> TraceReplayResult {
        let reader = try TraceReader(path: path, chunkSize: chunkSize, standInEvent: standInEvent)
        return try pipeline(reader, batchSize: batchSize, queueDepth: queueDepth, progress: progress,
                            read: ReplayBatches.events, body)
    }

    /// As `run`, with batches of plain conversion records (`TraceEventBatch`, applied with
    /// `Monitor.apply(_: TraceEventBatch)`): what `encmon replay --json/--summary` does. The
    /// batches are reused: `body` must not keep them. `referenceParsing` reads through the
    /// per-event paths only (the tests' reference).
    public static func runBatches(path: String, chunkSize: Int = TraceReader.defaultChunkSize,
                                  batchSize: Int = defaultBatchSize, queueDepth: Int = defaultQueueDepth,
                                  progress: TraceReplayProgress? = nil, standInEvent: TraceEventName? = nil,
                                  referenceParsing: Bool = false,
                                  _ body: (TraceEventBatch) throws -> Void) throws -> TraceReplayResult {
        try runBatches(path: path, chunkSize: chunkSize, batchSize: batchSize, queueDepth: queueDepth, progress: progress,
                       standInEvent: standInEvent, referenceParsing: referenceParsing, churn: nil, body)
    }

    /// `runBatches` into `monitor` (`Monitor.apply(_: TraceEventBatch)`), with its churn tracker
    /// moved to the parsing thread as a `ChurnStage` for the replay and back afterwards, also
    /// when the replay throws. `afterBatch` runs after each batch is applied (a progress line);
    /// an error it throws ends the replay as one from `runBatches`' body does.
    /// The model ends exactly as `runBatches` with `monitor.apply` would leave it, on one core
    /// less of the applying thread's time.
    public static func replay(path: String, into monitor: inout Monitor, chunkSize: Int = TraceReader.defaultChunkSize,
                              batchSize: Int = defaultBatchSize, queueDepth: Int = defaultQueueDepth,
                              progress: TraceReplayProgress? = nil, standInEvent: TraceEventName? = nil,
                              referenceParsing: Bool = false,
                              afterBatch: (borrowing Monitor) throws -> Void = { _ in }) throws -> TraceReplayResult {
        let stage = ChurnStageHolder(monitor.detachChurn())
        defer { monitor.attach(stage.stage.withLock { $0 }) }
        return try runBatches(path: path, chunkSize: chunkSize, batchSize: batchSize, queueDepth: queueDepth, progress: progress,
                              standInEvent: standInEvent, referenceParsing: referenceParsing, churn: stage) { batch in
            monitor.apply(batch)
            try afterBatch(monitor)
        }
    }

    private static func runBatches(path: String, chunkSize: Int, batchSize: Int, queueDepth: Int,
                                   progress: TraceReplayProgress?, standInEvent: TraceEventName?, referenceParsing: Bool,
                                   churn: ChurnStageHolder?,
                                   _ body: (TraceEventBatch) throws -> Void) throws -> TraceReplayResult {
        let reader = try TraceReader(path: path, chunkSize: chunkSize, standInEvent: standInEvent)
        reader.referenceParsing = referenceParsing
        let pool = BatchPool()
        return try pipeline(reader, batchSize: batchSize, queueDepth: queueDepth, progress: progress,
                            read: { reader, size, deliver in
                                try ReplayBatches.records(reader, batchSize: size, pool: pool, churn: churn, deliver)
                            },
                            { batch in
                                try body(batch)
                                pool.recycle(batch)
                            })
    }

    private static func pipeline<Batch: Sendable>(
        _ reader: sending TraceReader, batchSize: Int, queueDepth: Int, progress: TraceReplayProgress?,
        read: @escaping @Sendable (TraceReader, Int, (Batch, TraceReadCounters) throws -> Void) throws -> Void,
        _ body: (Batch) throws -> Void
    ) throws -> TraceReplayResult {
        progress?.start(name: reader.name, counters: reader.counters)
        let job = ReplayJob<Batch>(reader: reader, batchSize: max(1, batchSize), queueDepth: max(1, queueDepth), read: read)

        guard case .success(let thread) = ProducerThread.start({ job.produce() }) else {
            // No thread to be had (EAGAIN): the same batches, read on this thread.
            return try job.runInline(progress: progress, body)
        }
        while let (events, counters) = job.batches.take() {
            progress?.update(counters)
            do {
                try body(events)
            } catch {
                job.batches.cancel()
                thread.join()
                throw error
            }
        }
        thread.join()
        let result = try job.outcome.get()
        progress?.update(result.counters, finished: true)
        return result
    }
}

/// What a finished replay read.
public struct TraceReplayResult: Sendable, Hashable {
    public var counters: TraceReadCounters
    /// The first malformed lines (line number, reason, start of the text), for stderr.
    public var malformedSamples: [MalformedLine]
    public var status: SourceStatus

    public init(counters: TraceReadCounters, malformedSamples: [MalformedLine], status: SourceStatus) {
        self.counters = counters; self.malformedSamples = malformedSamples; self.status = status
    }
}

/// Where a pipelined replay is, readable from any thread while it runs (the CLI's progress line).
/// It shows the reader's state after the last line of the batch most recently handed to `body`,
/// so it never runs ahead of the events applied.
///
/// A class because the replay and its observers share one instance.
public final class TraceReplayProgress: Sendable {
    private struct State {
        var name = ""
        var counters = TraceReadCounters()
        var finished = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Lines, events and bytes read so far, and the file size (for `counters.progress`).
    public var counters: TraceReadCounters { state.withLock { $0.counters } }
    /// bytes read / file size, or nil for streams.
    public var fraction: Double? { counters.progress }
    /// As `TraceReplaySource.status`: "line 1200 (24%)".
    public var status: SourceStatus {
        state.withLock { SourceStatus.replay(name: $0.name, counters: $0.counters, finished: $0.finished) }
    }

    func start(name: String, counters: TraceReadCounters) {
        state.withLock { $0 = State(name: name, counters: counters) }
    }

    func update(_ counters: TraceReadCounters, finished: Bool = false) {
        state.withLock { $0.counters = counters; $0.finished = finished }
    }
}

extension SourceStatus {
    /// The status of a trace replay (same wording as `TraceReplaySource.status`).
    static func replay(name: String, counters c: TraceReadCounters, finished: Bool) -> SourceStatus {
        var position = "line \(c.lines)"
        if let p = c.progress, p.isFinite { position += " (\(Int((min(1, max(0, p)) * 100).rounded(.down)))%)" }
        var status = SourceStatus(kind: .replay, name: name, position: position, lines: c.lines,
                                  skippedLines: c.skipped &+ c.duplicates, malformedLines: c.malformed,
                                  // LOST / DROPPED lines reach the model as events: not again here.
                                  droppedEvents: 0, progress: c.progress, finished: finished)
        status.location = .line(c.lines)
        status.timeInSeconds = !c.timeUnitUnknown
        status.partialRecordBytes = c.partialRecordBytes
        return status
    }
}

// MARK: - The parsing side

/// One replay's shared state: the reader, until the parsing thread takes it, the queue of batches
/// (the producer waits when `queueDepth` are waiting: a replay loses nothing), and the outcome.
private final class ReplayJob<Batch: Sendable>: Sendable {
    /// The `Mutex` carries the non-Sendable reader across threads: it is taken out exactly once,
    /// by whichever side reads (the parsing thread, or `runInline`).
    private let reader: Mutex<TraceReader?>
    let batchSize: Int
    let batches: BoundedQueue<(Batch, TraceReadCounters)>
    /// Reads the whole input into batches of at most `batchSize`, handing each to its closure.
    let read: @Sendable (TraceReader, Int, (Batch, TraceReadCounters) throws -> Void) throws -> Void
    private let ending = Mutex<Result<TraceReplayResult, any Error>>(.failure(ReplayCancelled()))

    init(reader: sending TraceReader, batchSize: Int, queueDepth: Int,
         read: @escaping @Sendable (TraceReader, Int, (Batch, TraceReadCounters) throws -> Void) throws -> Void) {
        self.reader = Mutex(reader)
        self.batchSize = batchSize
        self.read = read
        batches = BoundedQueue(capacity: queueDepth)
    }

    /// What the parsing thread ended with; read after it has been joined.
    var outcome: Result<TraceReplayResult, any Error> { ending.withLock { $0 } }

    private func takeReader() -> TraceReader {
        let taken = reader.withLock { r in
            let taken = r
            r = nil
            return taken
        }
        guard let taken else { preconditionFailure("a replay's reader is read once") }
        return taken
    }

    /// The parsing thread's work: every batch into the channel, then the outcome.
    func produce() {
        let reader = takeReader()
        let outcome = Result<TraceReplayResult, any Error> {
            try read(reader, batchSize) { events, counters in
                guard batches.put((events, counters)) else { throw ReplayCancelled() }
            }
            return Self.result(of: reader)
        }
        ending.withLock { $0 = outcome }
        batches.finish()
    }

    /// The fallback without a thread: the same batches, straight to `body`.
    func runInline(progress: TraceReplayProgress?, _ body: (Batch) throws -> Void) throws -> TraceReplayResult {
        let reader = takeReader()
        try read(reader, batchSize) { events, counters in
            progress?.update(counters)
            try body(events)
        }
        let result = Self.result(of: reader)
        progress?.update(result.counters, finished: true)
        return result
    }

    private static func result(of reader: TraceReader) -> TraceReplayResult {
        TraceReplayResult(counters: reader.counters, malformedSamples: reader.malformedSamples,
                          status: .replay(name: reader.name, counters: reader.counters, finished: true))
    }
}

/// The two ways of cutting a replay into batches.
private enum ReplayBatches {
    /// Leaves `TraceReader.forEach` (its fast path) when a batch is full, so that the reader's
    /// counters are current at each hand-over.
    private struct BatchFull: Error {}

    /// Reads `reader` to its end, handing `deliver` each full batch and a last, shorter, non-empty
    /// one, with the reader's counters after the batch's last line.
    static func events(_ reader: TraceReader, batchSize: Int,
                       _ deliver: ([MonitorEvent], TraceReadCounters) throws -> Void) throws {
        var batch: [MonitorEvent] = []
        batch.reserveCapacity(batchSize)
        while true {
            do {
                try reader.forEach { e in
                    batch.append(e)
                    if batch.count == batchSize { throw BatchFull() }
                }
            } catch is BatchFull {
                try deliver(batch, reader.counters)
                batch = []
                batch.reserveCapacity(batchSize)
                continue
            }
            if !batch.isEmpty { try deliver(batch, reader.counters) }
            return
        }
    }

    /// The same cut with `TraceReader.readBatch`: conversions as plain records, batches taken
    /// from `pool` (emptied) when the applying side has given one back.
    static func records(_ reader: TraceReader, batchSize: Int, pool: BatchPool, churn: ChurnStageHolder?,
                        _ deliver: (TraceEventBatch, TraceReadCounters) throws -> Void) throws {
        while true {
            var batch = pool.take(capacity: batchSize)
            try reader.readBatch(into: &batch, limit: batchSize)
            churn?.stage.withLock { $0.observe(&batch) }
            if !batch.isEmpty { try deliver(batch, reader.counters) }
            if reader.isFinished { return }
        }
    }
}

/// Emptied batches going back to the parsing thread, so their buffers are reused (at most
/// `limit` kept).
private final class BatchPool: Sendable {
    private let free = Mutex<[TraceEventBatch]>([])
    private static let limit = 8

    func take(capacity: Int) -> TraceEventBatch {
        var batch = free.withLock { $0.popLast() } ?? TraceEventBatch(capacity: capacity)
        batch.removeAll()
        return batch
    }

    func recycle(_ batch: TraceEventBatch) {
        free.withLock { if $0.count < Self.limit { $0.append(batch) } }
    }
}

/// A replay's churn stage, which the parsing thread runs (under an uncontended lock, once a
/// batch) and the caller takes back after that thread has ended.
private final class ChurnStageHolder: Sendable {
    let stage: Mutex<ChurnStage>
    init(_ stage: sending ChurnStage) { self.stage = Mutex(stage) }
}

/// The parsing thread stops: the caller's `body` threw.
private struct ReplayCancelled: Error {}
