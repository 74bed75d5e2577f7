import SystemLibc
import Testing

/// Output modes through the real binary: the CSV log, text width, and one exit code for
/// input that cannot be opened.
@Suite(.serialized) struct OutputModeTests {
    var fixture: String { Built.repositoryRoot + "/Tests/EndToEndTests/Fixtures/small-trace.txt" }

    private func csv(_ text: String) -> (header: [String], rows: [[String]]) {
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        return (lines.first ?? [], Array(lines.dropFirst()))
    }

    @Test func replayCSVLogsOneRowPerSecondOfTraceWithTheHeaderFigures() throws {
        let r = try run(Built.encmon, ["replay", fixture, "--csv"])
        #expect(r.status == 0, "\(r.stderr)")
        let (header, rows) = csv(r.stdout)
        #expect(header.first == "time" && header.contains("shared_bytes") && header.contains("calls_to_shared_1s"))
        #expect(rows.count >= 5)
        for row in rows { #expect(row.count == header.count, "\(row)") }
        let time = header.firstIndex(of: "time")!, events = header.firstIndex(of: "events")!
        let times = rows.map { Double($0[time]) ?? -1 }
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "\(times)")
        // The last row holds what the JSON summary reports for the whole file.
        let json = try run(Built.encmon, ["replay", fixture, "--json"])
        let last = try #require(rows.last)
        #expect(json.stdout.contains("\"events\": \(last[events]),"), "\(last)")
        let shared = header.firstIndex(of: "shared_bytes")!
        #expect(json.stdout.contains("\"sharedBytes\": \(last[shared]),"))
        // -n limits the rows; --csv with --json is a contradiction.
        let two = try run(Built.encmon, ["replay", fixture, "--csv", "-n", "2"])
        #expect(csv(two.stdout).rows.count == 2)
        let both = try run(Built.encmon, ["replay", fixture, "--csv", "--json"])
        #expect(both.status == 64)
    }

    @Test func demoCSVLogsWithMigrationColumns() throws {
        let r = try run(Built.encmon, ["demo", "--scenario", "migrate", "--csv", "-d", "0.05", "--speed", "100", "-n", "4"])
        #expect(r.status == 0, "\(r.stderr)")
        let (header, rows) = csv(r.stdout)
        #expect(rows.count == 4)
        let status = try #require(header.firstIndex(of: "migration_status"))
        #expect(rows.contains { $0[status] != "none" }, "\(rows)")
        #expect(r.stderr.isEmpty, "no batch-mode note in log mode: \(r.stderr)")
    }

    @Test func textOutputFollowsCOLUMNSWithEightyForPipes() throws {
        func widest(_ env: [String: String]) throws -> Int {
            let r = try run(Built.encmon, ["replay", fixture, "-b"], environment: env)
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.split(separator: "\n").map { $0.unicodeScalars.count }.max() ?? 0
        }
        #expect(try widest([:]) <= 80)
        #expect(try widest([:]) > 60)
        let wide = try widest(["COLUMNS": "150"])
        #expect(wide > 100 && wide <= 150, "\(wide)")
        #expect(try widest(["COLUMNS": "64"]) <= 64)
    }

    /// A missing file and a directory exit 66 whatever the output mode.
    @Test func cannotOpenIsSixtySixInEveryMode() throws {
        let dir = "/tmp/encmon-e2e-\(getpid())-dir"
        mkdir(dir, 0o700)
        defer { rmdir(dir) }
        for path in [dir, "/nonexistent/trace.txt"] {
            for mode in [["--json"], ["--summary"], ["--csv"], ["-b"], ["-b", "-n", "2"], []] {
                let r = try run(Built.encmon, ["replay", path] + mode)
                #expect(r.status == 66, "\(path) \(mode): \(r.status) \(r.stderr)")
                #expect(r.stderr.contains(path), "\(r.stderr)")
            }
        }
    }

    @Test func helpExamplesFitEightyColumns() throws {
        for sub in [[], ["demo"], ["replay"]] {
            let h = try run(Built.encmon, sub + ["--help"], environment: ["COLUMNS": "80"])
            #expect(h.status == 0)
            let lines = h.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            for (i, line) in lines.enumerated() {
                #expect(line.unicodeScalars.count <= 80, "\(sub): '\(line)'")
                // An example line that wrapped leaves its tail at column 0.
                if line.hasPrefix("  encmon "), i + 1 < lines.count {
                    let next = lines[i + 1]
                    #expect(next.isEmpty || next.hasPrefix("  "), "\(sub): example wrapped: '\(line)' / '\(next)'")
                }
            }
            #expect(!h.stdout.contains("<seed>"), "placeholders are upper-case words")
        }
    }
}

/// The sample trace the README names replays cleanly right after the build.
@Suite struct SampleTraceTests {
    @Test func shippedSampleReplays() throws {
        let path = Built.repositoryRoot + "/samples/sev-guest-boot.trace"
        let r = try run(Built.encmon, ["replay", path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"malformed\": 0"))
        #expect(!r.stdout.contains("\"conversions\": 0,"))
    }
}
