import Testing
@testable import MonitorCore

/// The batch fast path reads a line before its end is known (`fastConversionAhead`) and takes
/// the newline it stops at as the line's end. These traces put a newline, a CR or the end of a
/// chunk at every byte of a line it takes, and compare what the reader gives (events, counters,
/// malformed samples; batches and `next()`) with the reference parsing, which splits lines first.
struct FastLineEndTests {
    /// Lines the fast path takes, in the layouts it knows (ftrace, TGID column, perf, trace-cmd).
    static let fastLines = [
        "   qemu-system-x86-40519 [012] d..1. 9051.204132: kvm_hypercall: nr 0xc a0 0x102d00000 a1 0x1 a2 0x0 a3 0x0",
        "  CPU 3/KVM-4051  (   4022) [003] .... 9051.204140: kvm_hypercall: nr 0xc a0 0x10ed40 a1 0x10 a2 0x10 a3 0x0",
        " qemu-kvm  77 [001] 9052.000001:  kvm:kvm_hypercall:  nr 0xc a0 0x1000 a1 0xf a2 0x10 a3 0x0  \t",
        "  CPU 0/KVM-9 [000]  12.5: kvm_hypercall:        nr 0xc a0 0xfedcba9876543000 a1 0x1 a2 0x0 a3 0x0",
    ]

    /// What the reader gives for `bytes`, through `readBatch` (limit `limit`) or `next()`.
    static func read(_ bytes: [UInt8], chunkSize: Int, maxLineLength: Int = TraceReader.defaultMaxLineLength,
                     reference: Bool, batchLimit limit: Int?) throws -> ([MonitorEvent], TraceReadCounters, [MalformedLine]) {
        let reader = TraceReader(bytes: bytes, chunkSize: chunkSize, maxLineLength: maxLineLength)
        reader.referenceParsing = reference
        var events: [MonitorEvent] = []
        if let limit {
            var batch = TraceEventBatch()
            while !reader.isFinished {
                batch.removeAll()
                try reader.readBatch(into: &batch, limit: limit)
                events += batch.events
            }
        } else {
            while let e = try reader.next() { events.append(e) }
        }
        return (events, reader.counters, reader.malformedSamples)
    }

    /// Fast and reference readings of `text` agree, as batches and one event at a time.
    static func expectSameReading(_ text: [UInt8], chunkSizes: [Int], maxLineLength: Int = TraceReader.defaultMaxLineLength,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        for chunkSize in chunkSizes {
            for limit in [nil, 1, 1000] as [Int?] {
                let fast = try read(text, chunkSize: chunkSize, maxLineLength: maxLineLength, reference: false, batchLimit: limit)
                let reference = try read(text, chunkSize: chunkSize, maxLineLength: maxLineLength, reference: true, batchLimit: limit)
                #expect(fast.0 == reference.0, "\(String(decoding: text, as: UTF8.self).debugDescription) chunk \(chunkSize) limit \(String(describing: limit))",
                        sourceLocation: sourceLocation)
                #expect(fast.1 == reference.1, "counters, chunk \(chunkSize)", sourceLocation: sourceLocation)
                #expect(fast.2 == reference.2, "samples, chunk \(chunkSize)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [
        [UInt8(ascii: "\n")],                      // the line ends early: two lines
        [UInt8(ascii: "\r"), UInt8(ascii: "\n")],  // the same with CRLF
    ])
    func aNewlineInsertedAnywhere(_ newline: [UInt8]) throws {
        for line in Self.fastLines {
            let bytes = Array(line.utf8)
            let next = Array(Self.fastLines[0].utf8)
            for k in 0...bytes.count {
                let text = Array(bytes[..<k]) + newline + Array(bytes[k...]) + [10] + next + [10]
                try Self.expectSameReading(text, chunkSizes: [1 << 16])
            }
        }
    }

    @Test(arguments: [UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"), 0, 0xa9])
    func aByteReplacedAnywhere(_ byte: UInt8) throws {
        for line in Self.fastLines {
            let bytes = Array(line.utf8)
            for k in bytes.indices {
                var changed = bytes
                changed[k] = byte
                // Also as the last line without a newline (the path that knows the line's end).
                try Self.expectSameReading(changed + [10] + bytes + [10], chunkSizes: [1 << 16])
                try Self.expectSameReading(bytes + [10] + changed, chunkSizes: [1 << 16])
            }
        }
    }

    /// Every chunk size up to two lines: each line is cut at every byte by some chunk end.
    @Test func linesCutByChunkEnds() throws {
        let text = Array((Self.fastLines.joined(separator: "\n") + "\r\n\n" + Self.fastLines.joined(separator: "\r\n")).utf8)
        try Self.expectSameReading(text, chunkSizes: Array(1...230))
    }

    /// A line the fast path would take is still overlong past the limit (blanks after a3 count).
    @Test func blanksPastTheLineLimit() throws {
        let line = Self.fastLines[0]
        let limit = 200
        for blanks in [limit - line.utf8.count - 1, limit - line.utf8.count, limit - line.utf8.count + 1, 5000] {
            for end in ["\n", "\r\n"] {
                let long = line + String(repeating: " ", count: blanks)
                let text = Array((line + end + long + end + line + end).utf8)
                try Self.expectSameReading(text, chunkSizes: [1 << 16, 150], maxLineLength: limit)
            }
        }
    }

    /// The rest of an overlong line is dropped even where it reads as a whole fast-path line
    /// (a chunk starts right at it).
    @Test func theRestOfAnOverlongLineIsDropped() throws {
        let line = Self.fastLines[0]
        for junk in stride(from: 190, through: 460, by: 1) {
            let text = Array((String(repeating: "x", count: junk) + line + "\n" + line + "\n").utf8)
            try Self.expectSameReading(text, chunkSizes: [150], maxLineLength: 200)
        }
    }

    /// The whole seconds are compared with the last line's (digits and dot): a longer number
    /// with the same leading digits, a missing dot, a new digit count.
    @Test func secondsLikeTheLastLines() throws {
        let stamps = ["9051.204132", "9051.204133", "90512.000001", "9051.5", "9051:5", "905.1", "9051.204134",
                      "9.999999", "10.000001", "10.000002", "1234567.1", "12345678.1", "12345678.2", "1234567.2", "0.1"]
        let lines = stamps.map { "   qemu-system-x86-40519 [012] d..1. \($0): kvm_hypercall: nr 0xc a0 0x1000 a1 0x1 a2 0x0 a3 0x0" }
        let text = Array((lines.joined(separator: "\n") + "\n").utf8)
        try Self.expectSameReading(text, chunkSizes: [1 << 16, 97])
        let (events, _, _) = try Self.read(text, chunkSize: 1 << 16, reference: false, batchLimit: 100)
        #expect(events.count == stamps.count - 1)  // "9051:5" is not a timestamp
    }

    /// The pid check reads the eight bytes before the cpu column: pids of every length, after a
    /// comm ending in bytes >= 0x80 (a carry in the word's digit test), around Int32.max.
    @Test func pidsOfEveryLength() throws {
        var lines: [String] = []
        for digits in 0...12 {
            let pid = String(String(repeating: "9876543210", count: 2).prefix(digits))
            for comm in ["qemu-system-x86-", "é-", "é ", "é", "\u{8a}x ", "CPU 1/KVM-"] {
                lines.append("\(comm)\(pid) [000] d..1. 1.5: kvm_hypercall: nr 0xc a0 0x1000 a1 0x1 a2 0x0 a3 0x0")
            }
        }
        for pid in ["2147483647", "2147483648", "0000000001", "99999999999", "9999999"] {
            lines.append("a-\(pid) [000] 1.5: kvm_hypercall: nr 0xc a0 0x1000 a1 0x1 a2 0x0 a3 0x0")
        }
        try Self.expectSameReading(Array((lines.joined(separator: "\n") + "\n").utf8), chunkSizes: [1 << 16])
    }
}
