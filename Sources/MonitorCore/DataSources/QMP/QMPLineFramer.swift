/// Splits the QMP byte stream into lines (QEMU ends each message with "\r\n") and refuses a
/// line longer than `maxLineBytes`, so a peer that never sends a newline cannot grow memory.
struct QMPLineFramer: Sendable {
    let maxLineBytes: Int
    private var buffer: [UInt8] = []
    /// Start of the unconsumed bytes; compacted lazily so consuming a line is O(line).
    private var start = 0
    /// Bytes already known to hold no newline, so a slow trickle is scanned once.
    private var scanned = 0

    init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    /// True while part of a line is buffered (a peer closing now cut a message short).
    var hasPartialLine: Bool { start < buffer.count }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            scanned -= start
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete line without its line end, or nil when none is complete yet.
    /// Empty lines are skipped.
    mutating func nextLine() throws(QMPError) -> ArraySlice<UInt8>? {
        while true {
            var i = max(start, scanned)
            while i < buffer.count && buffer[i] != UInt8(ascii: "\n") { i += 1 }
            scanned = i
            guard i < buffer.count else {
                if buffer.count - start > maxLineBytes { throw .lineTooLong(limit: maxLineBytes) }
                return nil
            }
            var end = i
            if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let line = buffer[start..<end]
            start = i + 1
            scanned = start
            if line.count > maxLineBytes { throw .lineTooLong(limit: maxLineBytes) }
            if !line.isEmpty { return line }
        }
    }
}
