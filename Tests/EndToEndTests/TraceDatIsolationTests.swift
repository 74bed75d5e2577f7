import SystemLibc
import Foundation
import Testing

/// trace.dat files are decoded in a child process: files on which libtracecmd itself crashes
/// (found by `FuzzTraceDat`, kept in Fixtures/tracedat-crash-*.dat) end with one line and exit 65,
/// not with encmon dying of SIGSEGV; a good file still replays exactly through the child.
@Suite struct TraceDatIsolationTests {
    static var crashFiles: [String] {
        let dir = Built.repositoryRoot + "/Tests/EndToEndTests/Fixtures"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix("tracedat-crash-") }.sorted().map { dir + "/" + $0 }
    }

    @Test func everyFileThatCrashesLibtracecmdIsOneLineAndExit65() throws {
        let files = Self.crashFiles
        #expect(!files.isEmpty)
        for file in files {
            let r = try run(Built.encmon, ["replay", file, "--json"])
            #expect(r.status == 65, "\(file): exit \(r.status), \(r.stderr.prefix(300))")
            #expect(r.stdout.isEmpty)
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr.prefix(500))")
            #expect(r.stderr.hasPrefix("encmon: \(file): "), "\(r.stderr.prefix(300))")
            // The same file in-process would have killed encmon: the child proves it is libtracecmd.
            let child = try run(Built.encmon, ["decode-trace-dat", file])
            #expect(child.status > 128 || child.status == 65, "\(file): decoder child exit \(child.status)")
        }
    }

    /// Files whose size fields ask libtracecmd for a 4 GiB buffer (libFuzzer's malloc limit caught
    /// them): refused with exit 65, the child not killed.
    @Test func hostileSizeFieldsAreRefusedNotFatal() throws {
        let dir = Built.repositoryRoot + "/Tests/EndToEndTests/Fixtures"
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("tracedat-hostile-size-") }
        #expect(files.count == 2)
        for name in files {
            let file = dir + "/" + name
            let r = try run(Built.encmon, ["replay", file, "--summary"])
            #expect(r.status == 65, "\(file): exit \(r.status), \(r.stderr.prefix(300))")
            #expect(r.stderr.split(separator: "\n").count == 1 && r.stdout.isEmpty)
        }
    }

    @Test func aGoodTraceDatReplaysExactlyThroughTheChild() throws {
        // Made by scripts/make-tracedat-seeds.sh: the same eight stand-in calls on two CPUs.
        let file = Built.repositoryRoot + "/Fuzz/Seeds/FuzzTraceDat/standin-2cpu-v6.dat"
        let r = try run(Built.encmon, ["replay", file, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let s = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let n = { (key: String) in (s[key] as? NSNumber)?.intValue ?? -1 }
        #expect(n("conversions") == 8 && n("toShared") == 6 && n("toPrivate") == 2)
        #expect(n("rejected") == 6 && n("otherHypercalls") == 2 && n("lostEvents") == 0 && n("malformed") == 0)
        #expect(regionStrings(s) == ["0x1f018000:1", "0x1f01a000:4", "0x80000000:512"])
    }

    @Test func aTruncatedTraceDatIsRefusedByLibtracecmdWithExit65() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: Built.repositoryRoot + "/Fuzz/Seeds/FuzzTraceDat/standin-2cpu-v6.dat"))
        let tmp = TemporaryDirectory("tracedat-cut")
        let cut = tmp.path + "/cut.dat"
        try good.prefix(3000).write(to: URL(fileURLWithPath: cut))
        let r = try run(Built.encmon, ["replay", cut, "--summary"])
        #expect(r.status == 65)
        #expect(r.stderr == "encmon: \(cut): not a trace.dat file libtracecmd can read (truncated, damaged or an unsupported version)\n")
    }
}
