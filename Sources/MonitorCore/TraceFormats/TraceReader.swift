import SystemLibc

/// How a reader blocked on a stream (pipe, FIFO, terminal) learns to stop: `isRequested` is
/// checked on every EINTR and at least every `checkMilliseconds` while the stream is silent
/// (a signal may land on another thread), and cancelling `signal` wakes the reader at once.
/// Then the read throws `TraceFileError.interrupted`.
public struct TraceReadInterruption: Sendable {
    public static let checkMilliseconds: Int32 = 200
    public var signal: CancellationSignal
    public var isRequested: @Sendable () -> Bool

    public init(signal: CancellationSignal, isRequested: @escaping @Sendable () -> Bool = { false }) {
        self.signal = signal
        self.isRequested = isRequested
    }
}

/// What a trace reader has seen so far.
public struct TraceReadCounters: Sendable, Hashable {
    /// Lines read, including skipped, malformed and overlong ones.
    public var lines: UInt64 = 0
    /// Events produced.
    public var events: UInt64 = 0
    /// Lines that are not events: headers, comments, blank lines, other events, other text.
    public var skipped: UInt64 = 0
    /// Lines that start like a supported event but do not parse.
    public var malformed: UInt64 = 0
    /// QEMU `kvm_convert_memory` lines that repeat the conversion of the line before.
    public var duplicates: UInt64 = 0
    /// Events the trace says were lost (LOST / DROPPED lines with a number).
    public var lostEvents: UInt64 = 0
    /// Bytes of a recording's last line that had no newline: a record cut off by a crash or a
    /// full disk while recording, dropped (not counted as malformed).
    public var partialRecordBytes: UInt64 = 0
    /// Times a followed file shrank (truncated or rewritten) and was read again from its start.
    public var truncations: UInt64 = 0
    /// LOST / DROPPED lines without a number: the loss is real, its size unknown.
    public var lossReportsWithoutCount: UInt64 = 0
    /// Some event time is not in seconds (integer clock ticks, or no time column): rates are per
    /// an unknown unit.
    public var timeUnitUnknown = false
    /// Bytes consumed, up to the start of the next line to parse.
    public var bytesRead: UInt64 = 0
    /// The file size when the input is a regular file.
    public var fileSize: UInt64?

    public init() {}

    /// bytesRead / fileSize, or nil for streams.
    public var progress: Double? {
        guard let size = fileSize else { return nil }
        return size == 0 ? 1 : min(1, Double(bytesRead) / Double(size))
    }
}

/// A line that starts like a supported event but could not be parsed.
public struct MalformedLine: Sendable, Hashable, CustomStringConvertible {
    public var lineNumber: UInt64
    public var reason: String
    /// The start of the line (at most `MalformedLine.maxTextLength` bytes, invalid UTF-8 repaired).
    public var text: String

    public static let maxTextLength = 160

    public init(lineNumber: UInt64, reason: String, text: String) {
        self.lineNumber = lineNumber; self.reason = reason; self.text = text
    }

    /// `line 12: kvm_hypercall: bad or missing a1: <text>`
    public var description: String { "line \(lineNumber): \(reason): \(text)" }
}

/// Streams trace text or a recording from a file, stdin or memory and turns it into events, with
/// memory bounded by the chunk size plus the longest line kept, whatever the input size.
///
/// Lines are split on raw bytes with `memchr` in large `read(2)` chunks (a line the conversion
/// fast path takes is read from its start and ends where that path finds its newline); a line is handed to
/// `TraceLineParser` as a pointer into the buffer, never as a String. CRLF line ends, a last line
/// without newline and lines spanning chunks are handled; a line longer than `maxLineLength`
/// (65536 while reading a recording) is counted as malformed when its start names a supported
/// event, else skipped, and its remainder is discarded without buffering.
///
/// A class because it owns a file descriptor and a buffer.
public final class TraceReader {
    public static let defaultChunkSize = 1 << 20
    public static let defaultMaxLineLength = 4096
    /// Malformed lines kept as samples; later ones are only counted.
    public static let malformedSampleLimit = 10

    /// The path as given (`-` for stdin).
    public let path: String
    /// For display: the file's name, or `stdin`.
    public let name: String

    private var core: TraceReaderCore

    /// Opens `path` (`-` = standard input).
    public init(path: String, chunkSize: Int = TraceReader.defaultChunkSize,
                maxLineLength: Int = TraceReader.defaultMaxLineLength, standInEvent: TraceEventName? = nil) throws {
        self.path = path
        let fd: Int32
        let owned: Bool
        if path == "-" {
            fd = 0; owned = false; name = "stdin"
        } else {
            switch TraceFile.open(path, flags: O_RDONLY) {
            case .success(let d): fd = d
            case .failure(let e): throw TraceFileError.cannotOpen(path: path, errno: e.code)
            }
            owned = true
            name = path.split(separator: "/").last.map(String.init) ?? path
        }
        core = TraceReaderCore(source: .descriptor(fd, owned: owned), path: path,
                               chunkSize: chunkSize, maxLineLength: maxLineLength)
        core.parser.standInEvent = standInEvent
        core.counters.fileSize = TraceFile.regularFileSize(fd)
    }

    /// Reads from bytes in memory (tests, small inputs); `chunkSize` bytes are handed over per
    /// "read", so tiny chunks exercise lines spanning chunk boundaries.
    public init(bytes: [UInt8], name: String = "memory", chunkSize: Int = TraceReader.defaultChunkSize,
                maxLineLength: Int = TraceReader.defaultMaxLineLength, standInEvent: TraceEventName? = nil) {
        self.path = name
        self.name = name
        core = TraceReaderCore(source: .memory(bytes), path: name, chunkSize: chunkSize, maxLineLength: maxLineLength)
        core.parser.standInEvent = standInEvent
        core.counters.fileSize = UInt64(bytes.count)
    }

    deinit { core.release() }

    public var counters: TraceReadCounters { core.currentCounters }
    public var malformedSamples: [MalformedLine] { core.samples }
    /// True once the input is exhausted and every line was handed out.
    public var isFinished: Bool { core.finished }
    /// The parser's state (last timestamp, recording mode).
    public var parser: TraceLineParser { core.parser }
    /// Set to make reads of a stream stoppable (without it a silent pipe blocks until data).
    /// Follow the file like `tail -f`: at its end `next()` returns nil without finishing, and a
    /// later call reads what was appended; a truncated file is read again from its start
    /// (`counters.truncations`). Regular files only: a stream's end is final.
    public var follow: Bool {
        get { core.follow }
        set { core.follow = newValue }
    }

    public var interruption: TraceReadInterruption? {
        get { core.interruption }
        set { core.interruption = newValue }
    }

    /// The next event, or nil at the end of the input. Read errors throw `TraceFileError`.
    public func next() throws -> MonitorEvent? {
        try core.nextEvent()
    }

    /// Calls `body` for every remaining event: the fast path for batch replay. `body` must not call
    /// back into this reader (counters read inside it may lag).
    public func forEach(_ body: (MonitorEvent) throws -> Void) throws {
        var local = core
        defer { core = local }
        while let e = try local.nextEvent() { try body(e) }
    }

    /// Appends up to `limit` events to `batch` (at least one unless the input is finished or a
    /// followed file has nothing more yet): the batch replay's fast path, conversions as plain
    /// records without pid and vCPU. The counters are current when it returns.
    public func readBatch(into batch: inout TraceEventBatch, limit: Int) throws {
        var local = core
        defer { core = local }
        var sink = BatchSink(batch: TraceEventBatch(), remaining: 0, referencePath: local.referencePath)
        swap(&sink.batch, &batch)
        defer { swap(&sink.batch, &batch) }
        sink.remaining = max(1, limit) - sink.batch.count
        if sink.remaining <= 0 { return }
        try local.readLines(into: &sink)
    }

    /// Parse every line through the per-event paths only, as encmon did before the batch fast
    /// path (`ConversionRecord`s read straight from the line): the reference that the tests
    /// compare the fast path with, byte for byte. Set before reading.
    public var referenceParsing: Bool {
        get { core.referencePath }
        set { core.referencePath = newValue }
    }
}

/// The reader's state as a value, so that the batch loop runs on a local copy (no class property
/// access per line). The buffer it points to is owned by the `TraceReader`.
struct TraceReaderCore {
    enum Input {
        case descriptor(Int32, owned: Bool)
        case memory([UInt8])
    }

    let input: Input
    let path: String
    let buffer: UnsafeMutablePointer<UInt8>
    let capacity: Int
    let chunkSize: Int
    let maxLineLength: Int

    var start = 0
    var end = 0
    var memoryPosition = 0
    var endOfInput = false
    var finished = false
    /// `--follow`: at the end of a regular file, report "nothing yet" instead of finishing.
    var follow = false
    /// Set when a followed file had nothing more: `nextEvent` returns nil without finishing.
    var caughtUp = false
    /// Inside an overlong line already counted: drop bytes up to the next newline.
    var discarding = false
    var totalRead: UInt64 = 0
    var parser = TraceLineParser()
    var counters = TraceReadCounters()
    var samples: [MalformedLine] = []
    var interruption: TraceReadInterruption?
    /// Parse with the per-event fast path only (`fastEvent`), as before the batch fast path: the
    /// reference that tests compare the fast path with.
    var referencePath = false

    init(source: Input, path: String, chunkSize: Int, maxLineLength: Int) {
        input = source
        self.path = path
        self.chunkSize = max(1, chunkSize)
        self.maxLineLength = max(16, maxLineLength)
        // Room for one chunk after the longest partial line kept (plus its CR and one byte).
        capacity = self.chunkSize + max(self.maxLineLength, RecordingFormat.maxLineLength) + 2
        // + wordSlack: word loads at the end of the last line stay inside the allocation.
        buffer = .allocate(capacity: capacity + Self.wordSlack)
        buffer.initialize(repeating: 0, count: capacity + Self.wordSlack)
    }

    static let wordSlack = 16

    func release() {
        buffer.deallocate()
        if case .descriptor(let fd, owned: true) = input { TraceFile.close(fd) }
    }

    var currentCounters: TraceReadCounters {
        var c = counters
        c.bytesRead = totalRead - UInt64(end - start)
        c.timeUnitUnknown = parser.timeUnitUnknown
        return c
    }

    @inline(__always)
    var lineLimit: Int { parser.isReadingRecording ? RecordingFormat.maxLineLength : maxLineLength }

    mutating func nextEvent() throws -> MonitorEvent? {
        var sink = SingleEventSink(referencePath: referencePath)
        try readLines(into: &sink)
        return sink.event
    }

    /// Reads lines into `sink` until it is full, the input ends, or a followed file has nothing
    /// more for now.
    @inline(__always)
    mutating func readLines<Sink: TraceLineSink>(into sink: inout Sink) throws {
        while true {
            if !discarding && sink.usesFastPath && start < end && takeFastLines(into: &sink) { return }
            if start < end {
                if let hit = memchr(buffer + start, Int32(TraceASCII.newline), end - start) {
                    let nl = UnsafeMutablePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - buffer
                    let lineStart = start
                    start = nl + 1
                    if discarding { discarding = false; continue }
                    var length = nl - lineStart
                    if length > 0 && buffer[nl - 1] == TraceASCII.cr { length -= 1 }
                    counters.lines &+= 1
                    if length > lineLimit {
                        overlong(at: lineStart)
                        continue
                    }
                    if consume(lineStart: lineStart, length: length, endsWithNewline: true, into: &sink) { return }
                    continue
                }
                if discarding {
                    start = end
                } else if end - start > lineLimit + 1 {
                    counters.lines &+= 1
                    overlong(at: start)
                    discarding = true
                    start = end
                }
            }
            if endOfInput {
                if start < end && !discarding {
                    let lineStart = start
                    var length = end - start
                    start = end
                    if buffer[lineStart + length - 1] == TraceASCII.cr { length -= 1 }
                    counters.lines &+= 1
                    if parser.isReadingRecording {
                        // The writer appends whole lines: a last line without its newline is a
                        // partial write (crash, full disk). Dropped and reported, never parsed.
                        counters.partialRecordBytes = UInt64(end - lineStart)
                    } else if length > lineLimit {
                        overlong(at: lineStart)
                    } else if consume(lineStart: lineStart, length: length, endsWithNewline: false, into: &sink) {
                        return  // the next call finishes
                    }
                }
                start = end
                finished = true
                return
            }
            try refill()
            if caughtUp { caughtUp = false; return }
        }
    }

    /// The lines from `start` that the sink's conversion fast path takes, one after another: each
    /// ends where that path finds its newline (no newline search). Stops at the first line it
    /// declines or that the buffer's end cuts; true when the sink is full. One function for the
    /// run, so that a taken line costs no call.
    @inline(never)
    mutating func takeFastLines<Sink: TraceLineSink>(into sink: inout Sink) -> Bool {
        let maxLength = lineLimit
        let readableEnd = capacity &+ Self.wordSlack
        // Lines taken, added to the counters once at the end (a line is one event here).
        var taken: UInt64 = 0
        defer { counters.lines &+= taken; counters.events &+= taken }
        while start < end {
            let line = TraceLineBytes(base: buffer + start, count: end &- start, readable: readableEnd &- start)
            guard let (fast, _, next) = parser.fastConversionAhead(line, ids: Sink.needsIDs, maxLength: maxLength) else {
                return false
            }
            start &+= next
            taken &+= 1
            if sink.take(fast) { return true }
        }
        return false
    }

    /// One line into `sink`; true when the sink wants no more.
    @inline(__always)
    mutating func consume<Sink: TraceLineSink>(lineStart: Int, length: Int, endsWithNewline: Bool,
                                               into sink: inout Sink) -> Bool {
        if length == 0 {
            counters.skipped &+= 1
            return false
        }
        let line = TraceLineBytes(base: buffer + lineStart, count: length, readable: capacity + Self.wordSlack - lineStart)
        // A line with its newline was offered to `fastConversionAhead` already; the last line of
        // the input, without one, is offered here.
        if !endsWithNewline && sink.usesFastPath, let fast = parser.fastConversion(line, ids: Sink.needsIDs) {
            counters.events &+= 1
            return sink.take(fast)
        }
        // The per-event fast path (`fastEvent`) comes first inside `parse`.
        let outcome = parser.parse(line, endsWithNewline: endsWithNewline, triedFastPath: false)
        switch outcome {
        case .event(let e):
            counters.events &+= 1
            if case .lostEvents(_, let n) = e {
                if let n { counters.lostEvents &+= n } else { counters.lossReportsWithoutCount &+= 1 }
            }
            return sink.take(e)
        case .skipped:
            counters.skipped &+= 1
        case .duplicate:
            counters.duplicates &+= 1
        case .malformed(let reason):
            noteMalformed(reason: reason, lineStart: lineStart, length: length)
        }
        return false
    }

    mutating func overlong(at lineStart: Int) {
        let limit = lineLimit
        let prefix = UnsafeBufferPointer(start: buffer + lineStart, count: limit)
        if parser.overlongLineIsMalformed(prefix) {
            noteMalformed(reason: "line longer than \(limit) bytes", lineStart: lineStart, length: limit)
        } else {
            counters.skipped &+= 1
        }
    }

    mutating func noteMalformed(reason: String, lineStart: Int, length: Int) {
        counters.malformed &+= 1
        guard samples.count < TraceReader.malformedSampleLimit else { return }
        let kept = min(length, MalformedLine.maxTextLength)
        let text = TraceLineBytes(base: buffer + lineStart, count: kept).text()
        samples.append(MalformedLine(lineNumber: counters.lines, reason: reason,
                                     text: kept < length ? text + "…" : text))
    }

    mutating func refill() throws {
        if start > 0 {
            if end > start { memmove(buffer, buffer + start, end - start) }
            end -= start
            start = 0
        }
        let room = min(chunkSize, capacity - end)
        switch input {
        case .descriptor(let fd, _):
            let n = try read(fd, into: buffer + end, count: room)
            if n > 0 {
                end += n; totalRead &+= UInt64(n)
            } else if follow, counters.fileSize != nil {
                followAtEnd(fd)
            } else {
                endOfInput = true
            }
        case .memory(let bytes):
            let n = min(room, bytes.count - memoryPosition)
            if n == 0 {
                endOfInput = true
            } else {
                bytes.withUnsafeBufferPointer { src in
                    (buffer + end).update(from: src.baseAddress! + memoryPosition, count: n)
                }
                memoryPosition += n
                end += n
                totalRead &+= UInt64(n)
            }
        }
    }

    /// The end of a followed file, like `tail -f`: nothing more for now; a file now shorter than
    /// what was read was truncated or rewritten, so it is read again from its start (a partial
    /// line kept from before is dropped).
    mutating func followAtEnd(_ fd: Int32) {
        caughtUp = true
        guard let size = TraceFile.regularFileSize(fd) else { return }
        if size < totalRead && lseek(fd, 0, SEEK_SET) == 0 {
            start = 0; end = 0; totalRead = 0; discarding = false
            counters.truncations &+= 1
        }
        counters.fileSize = size
    }

    /// One `read(2)`; on a stream with an interruption set, waits first (in slices) so that a
    /// request to stop is seen while the stream is silent. EINTR goes round the loop, which
    /// checks the request before reading again.
    private func read(_ fd: Int32, into target: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        while true {
            if let i = interruption {
                if i.signal.isCancelled || i.isRequested() { throw TraceFileError.interrupted(path: path) }
                if counters.fileSize == nil {
                    let readiness: Readiness
                    do {
                        readiness = try waitForReadable(fd, or: i.signal, timeoutMilliseconds: TraceReadInterruption.checkMilliseconds)
                    } catch {
                        if case .cannotWait(_, let e) = error { throw TraceFileError.cannotRead(path: path, errno: e) }
                        throw TraceFileError.cannotRead(path: path, errno: EIO)
                    }
                    if readiness != .readable { continue }
                }
            }
            switch TraceFile.read(fd, into: target, count: count) {
            case .success(let n): return n
            case .failure(let e) where e.code == EINTR: continue
            case .failure(let e): throw TraceFileError.cannotRead(path: path, errno: e.code)
            }
        }
    }
}

// MARK: - Where lines go

/// What a reader fills: one event (`next()`) or a batch (`readBatch`).
protocol TraceLineSink {
    /// Whether fast-path conversions must carry their pid and vCPU.
    static var needsIDs: Bool { get }
    /// False for the reference parsing: every line through the per-event paths.
    var usesFastPath: Bool { get }
    /// A conversion of the fast path; true when the sink is full now.
    mutating func take(_ fast: TraceLineParser.FastConversion) -> Bool
    /// An event of the per-event paths; true when the sink is full now.
    mutating func take(_ event: MonitorEvent) -> Bool
}

/// `next()`: the first event, with its pid and vCPU.
struct SingleEventSink: TraceLineSink {
    static var needsIDs: Bool { true }
    let usesFastPath: Bool
    var event: MonitorEvent?

    init(referencePath: Bool) { usesFastPath = !referencePath }

    mutating func take(_ fast: TraceLineParser.FastConversion) -> Bool {
        event = fast.event
        return true
    }

    mutating func take(_ event: MonitorEvent) -> Bool {
        self.event = event
        return true
    }
}

/// `readBatch`: conversions as plain records (no pid, no vCPU), up to `limit` events.
struct BatchSink: TraceLineSink {
    static var needsIDs: Bool { false }
    var batch: TraceEventBatch
    /// Events the batch still takes before it is full (a counter: no per-line `count` of two lists).
    var remaining: Int
    let usesFastPath: Bool

    init(batch: TraceEventBatch, remaining: Int, referencePath: Bool) {
        self.batch = batch; self.remaining = remaining; usesFastPath = !referencePath
    }

    @inline(__always)
    mutating func take(_ fast: TraceLineParser.FastConversion) -> Bool {
        batch.append(fast.record)
        remaining &-= 1
        return remaining <= 0
    }

    mutating func take(_ event: MonitorEvent) -> Bool {
        batch.append(event)
        remaining &-= 1
        return remaining <= 0
    }
}
