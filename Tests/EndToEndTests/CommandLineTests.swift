import SystemLibc
import Testing
import TestSupport

/// The built `encmon` binary and the repository root, found from the test runner's own path
/// (`swift test` puts the runner beside the products).
enum Built {
    static var productsDirectory: String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        let exe = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        // The runner is `<products>/encmonPackageTests.xctest` (a file on Linux).
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)])
    }
    static var encmon: String { productsDirectory + "/encmon" }
    static var repositoryRoot: String {
        let file = #filePath
        // <root>/Tests/EndToEndTests/CommandLineTests.swift
        var parts = file.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program with an empty signal mask and default dispositions (a child of the Swift Testing
/// runner otherwise inherits blocked signals), stdin from `input`, outputs captured through files.
func run(_ path: String, _ args: [String], input: String = "", environment: [String: String] = [:]) throws -> ProcessResult {
    let dir = "/tmp/encmon-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    mkdir(dir, 0o700)
    defer { _ = [("in"), ("out"), ("err")].map { unlink(dir + "/" + $0) }; rmdir(dir) }
    let inPath = dir + "/in", outPath = dir + "/out", errPath = dir + "/err"
    let fd = open(inPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    _ = input.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
    close(fd)

    var env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "HOME=/tmp"]
    env += environment.map { "\($0.key)=\($0.value)" }
    let pid = try spawnWithDefaultSignals(path, args, environment: env) { actions in
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ProcessResult(status: exitStatus, stdout: try readFile(outPath), stderr: try readFile(errPath))
}

func readFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

func writeTemp(_ name: String, _ text: String) -> String {
    let path = "/tmp/encmon-e2e-\(getpid())-\(name)"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    return path
}

/// The real binary on the command line: options, exit codes, messages that name the input.
@Suite(.serialized) struct CommandLineTests {
    let hypercall = "       CPU 2/KVM-40517   [007] d..1.  9051.204113: kvm_hypercall: nr 0xc a0 0x6a2f3000 a1 0x2 a2 0x0 a3 0x0\n"

    @Test func versionAndHelp() throws {
        let v = try run(Built.encmon, ["--version"])
        #expect(v.status == 0)
        #expect(v.stdout.hasPrefix("0."))
        for sub in [[], ["replay"], ["demo"]] {
            let h = try run(Built.encmon, sub + ["--help"])
            #expect(h.status == 0, "\(sub) --help")
            #expect(h.stdout.contains("USAGE"))
        }
    }

    @Test func missingFileNamesTheFile() throws {
        let r = try run(Built.encmon, ["replay", "/nonexistent/trace.txt", "--json"])
        #expect(r.status == 66)
        #expect(r.stderr.contains("/nonexistent/trace.txt"))
        #expect(r.stdout.isEmpty)
    }

    @Test func fileWithoutSupportedLinesFails() throws {
        let path = writeTemp("noise.txt", "hello\nkvm_exit is not here\n")
        defer { unlink(path) }
        let r = try run(Built.encmon, ["replay", path, "--json"])
        #expect(r.status == 65)
        #expect(r.stderr.contains("no line of any supported format"))
    }

    @Test func malformedLinesAreReportedWithLineNumbersAndReadingGoesOn() throws {
        let text = hypercall + "       CPU 2/KVM-40517   [007] d..1.  9051.3: kvm_hypercall: nr 0xc a0 0xZZ\n" 
            + "       CPU 2/KVM-40517   [007] d..1.  9051.4: kvm_hypercall: nr 0xc a0 0x7000000 a1 0x2 a2 0x0 a3 0x0\n"
        let path = writeTemp("bad.txt", text)
        defer { unlink(path) }
        let r = try run(Built.encmon, ["replay", path, "--json"])
        #expect(r.status == 0)
        #expect(r.stderr.contains(":2: malformed"))
        #expect(r.stdout.contains("\"malformed\": 1"))
        #expect(r.stdout.contains("\"conversions\": 2"))
    }

    @Test func standardInputAndTextSummary() throws {
        let r = try run(Built.encmon, ["replay", "-", "--summary"], input: hypercall)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("conversions"))
        #expect(r.stdout.contains("0x6a2f3000"))
    }

    @Test func badOptionsAreRejectedWithAMessage() throws {
        let r = try run(Built.encmon, ["replay", "x", "--delay", "-1"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--delay"))
        let s = try run(Built.encmon, ["replay", "x", "--speed", "fast"])
        #expect(s.status == 64)
        #expect(s.stderr.contains("--speed"))
    }

    @Test func liveModeNamesWhatWasTried() throws {
        let gone = try run(Built.encmon, ["--vm", "2147483646", "--batch", "-n", "1"])
        #expect(gone.status == 67)
        #expect(gone.stderr.contains("2147483646"))
        let word = try run(Built.encmon, ["--vm", "no-such-guest-name", "--batch", "-n", "1"])
        #expect(word.status == 67)
        #expect(word.stderr.contains("no-such-guest-name"))
        let eventWithoutVM = try run(Built.encmon, ["--event", "kvm:kvm_hypercall"])
        #expect(eventWithoutVM.status == 64)
        let badEvent = try run(Built.encmon, ["--vm", "1", "--event", "nocolon"])
        #expect(badEvent.status == 64)
        #expect(badEvent.stderr.contains("SYSTEM:NAME"))
    }

    /// The tracing path against the real kernel: a uprobe stand-in for kvm:kvm_hypercall in a
    /// private tracefs instance (root only: CI runs as root).
    @Test(.enabled(if: getuid() == 0, "needs root for tracefs"))
    func realTracefsUprobeTraceReplays() throws {
        let r = try run("/bin/bash", [Built.repositoryRoot + "/scripts/uprobe-trace-e2e.sh", Built.encmon])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains(" passed, 0 failed"))
    }
}
