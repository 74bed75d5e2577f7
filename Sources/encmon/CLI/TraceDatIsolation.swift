import ArgumentParser
import LiveHost
import MonitorCore
import SystemLibc

/// trace.dat files are decoded in a child process (`encmon decode-trace-dat FILE`, hidden): libtracecmd
/// is C and reads hostile files with no checks of its own; fuzzing found files that crash it
/// (a NULL dereference in `tracecmd_buffer_instance_handle`, FUZZING.md). A crash then ends the
/// child, and `encmon replay` reports one line and exit 65 instead of dying with SIGSEGV.
/// The child writes the events as encmon recording records, then one `#summary` comment; the
/// parent reads them as they come (`TraceDatStreamSource`).
enum IsolatedTraceDat {
    enum Failure: Error, CustomStringConvertible {
        /// The child said why (libtracecmd refused the file; exit 65, or 66 when it cannot open it).
        case refused(message: String, exitCode: Int32)
        /// libtracecmd crashed or hung on the file, after `eventsBefore` events were handed out.
        case crashed(path: String, signal: Int32, eventsBefore: Int)
        /// The child could not run or spoke nonsense.
        case childFailed(path: String, reason: String)

        var description: String {
            switch self {
            case .refused(let m, _): m
            case .crashed(let p, let s, let before):
                "\(p): libtracecmd crashed reading this trace.dat (signal \(s), \(signalName(s))); the file is damaged or hostile, "
                    + (before == 0 ? "nothing was replayed" : "only its first \(before) events were replayed")
            case .childFailed(let p, let r): "\(p): cannot decode the trace.dat: \(r)"
            }
        }

        var exitCode: Int32 {
            switch self {
            case .refused(_, let code): code
            case .crashed: 65
            case .childFailed: 71
            }
        }
    }

    /// Starts decoding `path` in a child process; the source reads the events as they come.
    static func open(path: String) throws(Failure) -> TraceDatStreamSource {
        guard let selfPath = ownExecutable() else { throw .childFailed(path: path, reason: "cannot find the encmon executable (/proc/self/exe)") }
        return try TraceDatStreamSource(path: path, executable: selfPath)
    }

    static let summaryPrefix = "#summary "

    static func encodeSummary(_ s: TraceDatSummary) -> String {
        summaryPrefix + "records=\(s.records) malformed=\(s.malformed) lost=\(s.lostEvents)"
            + " buffers=" + s.buffers.map { "=" + RecordingFormat.escape($0) }.joined(separator: ",")
            + " decoded=" + s.decodedEvents.map(RecordingFormat.escape).joined(separator: ",")
    }

    /// Buffer names carry a leading `=` each, so the top-level buffer ("") survives.
    static func decodeSummary(_ text: Substring) -> TraceDatSummary? {
        var s = TraceDatSummary()
        for field in text.split(separator: " ") {
            guard let eq = field.firstIndex(of: "=") else { return nil }
            let key = field[..<eq], value = field[field.index(after: eq)...]
            switch key {
            case "records": guard let v = UInt64(value) else { return nil }; s.records = v
            case "malformed": guard let v = UInt64(value) else { return nil }; s.malformed = v
            case "lost": guard let v = UInt64(value) else { return nil }; s.lostEvents = v
            case "buffers": s.buffers = value.split(separator: ",").compactMap { RecordingFormat.unescape($0.dropFirst()) }
            case "decoded": s.decodedEvents = value.split(separator: ",").compactMap { RecordingFormat.unescape($0) }
            default: break
            }
        }
        return s
    }

    private static func ownExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func signalName(_ s: Int32) -> String {
        switch s {
        case SIGSEGV: "SIGSEGV"
        case SIGBUS: "SIGBUS"
        case SIGABRT: "SIGABRT"
        case SIGFPE: "SIGFPE"
        case SIGILL: "SIGILL"
        case SIGKILL: "SIGKILL"
        default: "signal \(s)"
        }
    }
}

extension EncmonCommand {
    /// The child side of `IsolatedTraceDat`. Hidden: an implementation detail of `encmon replay`.
    struct DecodeTraceDat: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decode-trace-dat",
            abstract: "Decode a trace.dat into encmon recording records on stdout (used by replay).",
            shouldDisplay: false)

        @Argument var file: String

        func run() throws {
            var pending = ""
            do {
                let summary = try TraceDatFile.readEvents(path: file) { event in
                    pending += RecordingFormat.encode(event)
                    pending += "\n"
                    if pending.utf8.count >= 1 << 16 { StandardOutput.write(pending); pending = "" }
                }
                StandardOutput.write(pending + IsolatedTraceDat.encodeSummary(summary) + "\n")
            } catch {
                if case .cannotOpen = error { throw CommandFailure(message: "\(error)", exitCode: 66) }
                throw CommandFailure(message: "\(error)", exitCode: 65)
            }
        }
    }
}

/// A child process with its stdout and stderr on pipes; signals unblocked in the child. Its stdout
/// is read as it comes (`nextStdout`), its stderr kept whole, so a chatty stderr cannot block the
/// child's stdout; `finish` reaps it.
final class DecoderChild {
    struct SpawnError: Error { var reason: String }
    /// How the child ended.
    struct Ending {
        var stderr: String
        /// Exit status when it exited, else 0.
        var status: Int32
        /// The signal that ended it, else 0.
        var signal: Int32
    }

    private let pid: pid_t
    private var fds: [pollfd]
    private var stderrBytes: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 1 << 16)
    private var reaped: Ending?

    init(_ path: String, _ args: [String]) throws(SpawnError) {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { throw SpawnError(reason: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw SpawnError(reason: "pipe: \(String(cString: strerror(errno)))")
        }
        // Close-on-exec, so no other child inherits a write end (the dup2 below clears it for 1 and 2).
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environment = Self.environment()
        defer { environment.forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environment)
        close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw SpawnError(reason: "cannot run \(path): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0), pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
    }

    /// This process's environment without Swift's backtracer: the parent says what happened, in one line.
    private static func environment() -> [UnsafeMutablePointer<CChar>?] {
        var environment: [UnsafeMutablePointer<CChar>?] = [strdup("SWIFT_BACKTRACE=enable=no")]
        var e = environ
        while let entry = e.pointee {
            if !String(cString: entry).hasPrefix("SWIFT_BACKTRACE=") { environment.append(strdup(entry)) }
            e += 1
        }
        environment.append(nil)
        return environment
    }

    /// The next bytes the child writes to stdout (waiting for them), or nil once it has closed it.
    /// Its stderr is read meanwhile.
    func nextStdout() -> ArraySlice<UInt8>? {
        while fds[0].fd >= 0 {
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; closeAll(); return nil }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = readChunk(i)
                if n > 0 && i == 0 { return chunk[..<n] }
            }
        }
        return nil
    }

    /// Reads the rest of stderr and reaps the child. Once; later calls return the same.
    func finish() -> Ending {
        if let reaped { return reaped }
        while nextStdout() != nil {}
        while fds[1].fd >= 0 { _ = readChunk(1) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signalled = status & 0x7f
        let ending = Ending(stderr: String(decoding: stderrBytes, as: UTF8.self),
                            status: signalled == 0 ? (status >> 8) & 0xff : 0,
                            signal: signalled != 0 && signalled != 0x7f ? signalled : 0)
        reaped = ending
        return ending
    }

    /// Stops a child that is still writing (the reader gave up early) and reaps it.
    func stop() {
        guard reaped == nil else { return }
        kill(pid, SIGKILL)
        closeAll()
        _ = finish()
    }

    /// One read of pipe `i` into `chunk` (stderr's bytes are kept): the byte count, 0 when
    /// interrupted or at the end, where the pipe is closed.
    private func readChunk(_ i: Int) -> Int {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fds[i].fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { return 0 }
        if n <= 0 { close(fds[i].fd); fds[i].fd = -1; return 0 }
        if i == 1 { stderrBytes.append(contentsOf: chunk[..<n]) }
        return n
    }

    private func closeAll() {
        for i in 0..<2 where fds[i].fd >= 0 { close(fds[i].fd); fds[i].fd = -1 }
    }

    deinit { stop() }
}
