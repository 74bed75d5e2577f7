import LiveHost
import MonitorCore

/// A trace.dat replayed as its decoder child (`IsolatedTraceDat`) writes it: the child's records
/// are decoded a pipe read at a time, so a replay holds one read's events however long the file
/// (it used to hold the child's whole output, then every event). The child's summary line comes
/// last. How the child ended (crashed, refused the file, wrote nonsense) is thrown by the `poll`
/// or `peekNextTime` that reaches the end, after every event before it has been handed out.
final class TraceDatStreamSource: EventSource {
    let name: String
    /// The next bytes of the child's stdout, nil at its end.
    private let nextChunk: () -> ArraySlice<UInt8>?
    /// Reaps the child once its stdout has ended.
    private let ending: () -> DecoderChild.Ending
    /// The last line of the bytes read so far, not yet ended by its newline.
    private var partial: [UInt8] = []
    private var pending: [MonitorEvent] = []
    private var head = 0
    private var ended = false
    /// A failure found at the end, thrown once the events before it are handed out.
    private var endFailure: IsolatedTraceDat.Failure?
    /// The child's summary, once it has been read (at the end).
    private(set) var summary: TraceDatSummary?
    /// Events handed out by `poll`.
    private(set) var delivered = 0
    /// Decoded events that stand for a record (all but lost-event markers), for `skippedLines`.
    private var decodedRecords: UInt64 = 0

    init(name: String, nextChunk: @escaping () -> ArraySlice<UInt8>?, ending: @escaping () -> DecoderChild.Ending) {
        self.name = name
        self.nextChunk = nextChunk
        self.ending = ending
    }

    /// Starts `encmon decode-trace-dat path` (this executable) and reads it as it writes.
    convenience init(path: String, executable: String) throws(IsolatedTraceDat.Failure) {
        let child: DecoderChild
        do { child = try DecoderChild(executable, ["decode-trace-dat", path]) } catch {
            throw .childFailed(path: path, reason: error.reason)
        }
        // The closures own the child: it is stopped and reaped when the source goes.
        self.init(name: path, nextChunk: { child.nextStdout() }, ending: { child.finish() })
    }

    func poll(until: EventTime?, limit: Int, into out: inout [MonitorEvent]) throws -> Bool {
        var n = 0
        while n < limit {
            try fill()
            guard head < pending.count else { return false }
            let e = pending[head]
            if let until, e.time > until { return true }
            out.append(e)
            head += 1
            delivered += 1
            n += 1
        }
        return head < pending.count || !ended
    }

    func peekNextTime() throws -> EventTime? {
        try fill()
        return head < pending.count ? pending[head].time : nil
    }

    var status: SourceStatus {
        let finished = ended && head == pending.count
        return SourceStatus(kind: .replay, name: name,
                            position: "event \(delivered)\(finished ? " of \(delivered)" : "") (trace.dat)",
                            lines: summary?.records ?? decodedRecords,
                            skippedLines: summary?.skippedRecords(decoded: decodedRecords) ?? 0,
                            // Lost events are in the stream as `.lostEvents`; counting them here too would double them.
                            malformedLines: summary?.malformed ?? 0,
                            progress: finished ? 1 : nil, finished: finished)
    }

    /// Reads and decodes until an event is pending or the child's output has ended.
    private func fill() throws(IsolatedTraceDat.Failure) {
        while head == pending.count && !ended {
            pending.removeAll(keepingCapacity: true)
            head = 0
            guard let bytes = nextChunk() else { try end(); break }
            try decodeLines(bytes)
        }
        if head == pending.count, let endFailure { throw endFailure }
    }

    /// Decodes the complete lines of `partial` + `bytes`; keeps the unfinished last one.
    private func decodeLines(_ bytes: ArraySlice<UInt8>) throws(IsolatedTraceDat.Failure) {
        var lineStart = bytes.startIndex
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == 10 {
                if partial.isEmpty {
                    try decodeLine(bytes[lineStart..<i])
                } else {
                    partial.append(contentsOf: bytes[lineStart..<i])
                    try decodeLine(partial[...])
                    partial.removeAll(keepingCapacity: true)
                }
                lineStart = i + 1
            }
            i += 1
        }
        partial.append(contentsOf: bytes[lineStart...])
    }

    private func decodeLine(_ bytes: ArraySlice<UInt8>) throws(IsolatedTraceDat.Failure) {
        guard !bytes.isEmpty else { return }
        let line = String(decoding: bytes, as: UTF8.self)
        if line.hasPrefix(IsolatedTraceDat.summaryPrefix) {
            summary = IsolatedTraceDat.decodeSummary(line.dropFirst(IsolatedTraceDat.summaryPrefix.count))
            return
        }
        do {
            let event = try RecordingFormat.decode(line)
            if case .lostEvents = event {} else { decodedRecords &+= 1 }
            pending.append(event)
        } catch {
            throw .childFailed(path: name, reason: "bad record from the decoder child: \(error)")
        }
    }

    /// The child's stdout has ended: how the child ended decides (a failure is kept for `fill` to
    /// throw), then its last line and summary.
    private func end() throws(IsolatedTraceDat.Failure) {
        ended = true
        let e = ending()
        if e.signal != 0 { endFailure = .crashed(path: name, signal: e.signal, eventsBefore: delivered); return }
        guard e.status == 0 else {
            var message = e.stderr.split(separator: "\n").last.map(String.init) ?? "\(name): not a readable trace.dat"
            if message.hasPrefix("encmon: ") { message.removeFirst("encmon: ".count) }
            endFailure = .refused(message: message, exitCode: e.status == 66 ? 66 : 65)
            return
        }
        if !partial.isEmpty {
            let last = partial
            partial.removeAll()
            try decodeLine(last[...])
        }
        if summary == nil { endFailure = .childFailed(path: name, reason: "the decoder child ended without its summary") }
    }
}
