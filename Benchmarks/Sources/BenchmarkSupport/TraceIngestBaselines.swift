#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MonitorCore

/// The benchmark trace on disk, made once per machine and reused while its size matches.
public struct TraceFixture: Sendable {
    public static let lineCount = 4_000_000
    public let path: String
    public let byteCount: Int
    public let lineCount: Int

    /// `$TMPDIR/encmon-bench-trace-<lines>.txt` (4 million lines, about 450 MB).
    public static let shared: TraceFixture = make(lines: lineCount)

    public static func make(lines: Int, seed: UInt64 = TraceGenerator.defaultSeed) -> TraceFixture {
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        let path = "\(dir)/encmon-bench-trace-v1-\(lines)-\(seed).txt"
        // The byte count is a function of (lines, seed): generate once to learn it unless a
        // sidecar records it.
        let sizePath = path + ".size"
        if let recorded = readSmallFile(sizePath).flatMap({ Int($0) }), fileSize(path) == recorded {
            return TraceFixture(path: path, byteCount: recorded, lineCount: lines)
        }
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(tmp): errno \(errno)")
        var gen = TraceGenerator(seed: seed)
        gen.write(to: fd, lines: lines)
        close(fd)
        precondition(rename(tmp, path) == 0, "rename \(tmp): errno \(errno)")
        writeSmallFile(sizePath, "\(gen.bytesWritten)")
        return TraceFixture(path: path, byteCount: gen.bytesWritten, lineCount: lines)
    }

    /// The whole file in memory (for the parse-only figure).
    public func load() -> [UInt8] {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0, "cannot open \(path)")
        defer { close(fd) }
        return [UInt8](unsafeUninitializedCapacity: byteCount) { buf, initialized in
            var done = 0
            while done < byteCount {
                let n = read(fd, buf.baseAddress! + done, byteCount - done)
                precondition(n > 0, "short read of \(path)")
                done += n
            }
            initialized = done
        }
    }

    public var megabytes: Double { Double(byteCount) / 1e6 }
}

private func fileSize(_ path: String) -> Int? {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : nil
}

private func readSmallFile(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var buf = [CChar](repeating: 0, count: 64)
    guard fgets(&buf, 64, f) != nil else { return nil }
    let s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return s.trimmingSuffix()
}

private func writeSmallFile(_ path: String, _ text: String) {
    guard let f = fopen(path, "w") else { return }
    fputs(text + "\n", f)
    fclose(f)
}

extension String {
    fileprivate func trimmingSuffix() -> String {
        var s = Substring(self)
        while let l = s.last, l == "\n" || l == " " { s = s.dropLast() }
        return String(s)
    }
}

/// The I/O floor: the same bytes through read(2) in 1 MiB chunks, newlines counted, nothing parsed.
public enum IOFloor {
    public static func countLines(path: String) -> Int {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0, "cannot open \(path)")
        defer { close(fd) }
        let chunk = 1 << 20
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { buf.deallocate() }
        var lines = 0
        while true {
            let n = read(fd, buf, chunk)
            if n <= 0 { break }
            var c = 0
            for i in 0..<n where buf[i] == 10 { c &+= 1 }
            lines &+= c
        }
        return lines
    }
}

/// What a parse produced, to check that the parsers agree and to keep the work observable.
public struct IngestTally: Equatable, Sendable, CustomStringConvertible {
    public var events = 0
    public var checksum: UInt64 = 0
    public init() {}
    public var description: String { "\(events) events, checksum \(String(checksum, radix: 16))" }
}

/// The lowest-level parse-only path: lines split with memchr over bytes already in memory, each
/// handed to `TraceLineParser.parse(_: UnsafeBufferPointer<UInt8>)`. No I/O, no model.
public enum ParseOnly {
    public static func parse(_ bytes: [UInt8]) -> IngestTally {
        var parser = TraceLineParser()
        var tally = IngestTally()
        bytes.withUnsafeBufferPointer { all in
            let base = all.baseAddress!
            var start = 0
            let end = all.count
            while start < end {
                let nl: Int
                if let hit = memchr(base + start, 10, end - start) {
                    nl = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
                } else {
                    nl = end
                }
                let outcome = parser.parse(UnsafeBufferPointer(start: base + start, count: nl - start), endsWithNewline: nl < end)
                if case .event(let e) = outcome { tally.add(e) }
                start = nl + 1
            }
        }
        return tally
    }
}

extension IngestTally {
    @inline(__always)
    public mutating func add(_ e: MonitorEvent) {
        events &+= 1
        switch e {
        case .conversion(let c): checksum &+= c.pages.lower &+ c.pages.count &+ UInt64(c.pid)
        case .otherHypercall(_, let nr): checksum &+= nr
        default: checksum &+= 1
        }
    }
}

/// The reference parser, written the obvious way: each line becomes a String, split on spaces,
/// numbers through `Int(_:radix:)` and `Double(_:)`. Reads the same layouts as the benchmark trace
/// (ftrace with or without TGID, trace-cmd report, perf script), only `kvm_hypercall`.
public enum ReferenceParser {
    public static func parse(path: String) -> IngestTally {
        var tally = IngestTally()
        forEachLine(path: path) { line in
            let fields = line.split(separator: " ")
            // ... [cpu] [flags] time: [kvm:]kvm_hypercall: nr 0x.. a0 0x.. a1 0x.. a2 0x.. a3 0x..
            guard fields.count >= 14 else { return }
            let name = fields.count - 11
            guard fields[name] == "kvm_hypercall:" || fields[name] == "kvm:kvm_hypercall:" else { return }
            guard let time = Double(fields[name - 1].dropLast()) else { return }
            // pid: the token before the cpu column `[NNN]`, after a TGID `(  40480)` if present;
            // ftrace and trace-cmd write it as comm-pid, perf as a token of its own.
            guard var p = fields.firstIndex(where: { $0.first == "[" }) else { return }
            p -= 1
            if fields[p].last == ")" {
                while p > 0 && fields[p].first != "(" { p -= 1 }
                p -= 1
            }
            guard let pid = Int(fields[p].split(separator: "-").last ?? fields[p]) else { return }
            func hex(_ i: Int) -> UInt64? { UInt64(fields[i].dropFirst(2), radix: 16) }
            guard let nr = hex(name + 2), let a0 = hex(name + 4), let a1 = hex(name + 6), let a2 = hex(name + 8) else { return }
            let event: MonitorEvent
            if nr != MapGPARangeRequest.hypercallNumber {
                event = .otherHypercall(time: time, number: nr)
            } else {
                event = MapGPARangeRequest(gpa: a0, pageCount: a1, attributes: a2)
                    .event(time: time, pid: Int32(pid), path: .hypercall)
            }
            tally.add(event)
        }
        return tally
    }

    /// Lines as Strings, read in 1 MiB chunks.
    static func forEachLine(path: String, _ body: (String) -> Void) {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0, "cannot open \(path)")
        defer { close(fd) }
        let chunk = 1 << 20
        var buf = [UInt8](repeating: 0, count: chunk)
        var carry = [UInt8]()
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, chunk) }
            if n <= 0 { break }
            carry.append(contentsOf: buf[0..<n])
            var lineStart = 0
            while let nl = carry[lineStart...].firstIndex(of: 10) {
                body(String(decoding: carry[lineStart..<nl], as: UTF8.self))
                lineStart = nl + 1
            }
            carry.removeFirst(lineStart)
        }
        if !carry.isEmpty { body(String(decoding: carry, as: UTF8.self)) }
    }
}

/// Monotonic seconds.
public func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` once and returns its result and the seconds it took.
@inline(__always)
public func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let t0 = monotonicNow()
    let r = try body()
    return (r, monotonicNow() - t0)
}
