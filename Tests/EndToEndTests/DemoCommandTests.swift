import Foundation
import Testing

/// `encmon demo` through the real binary: record-then-replay equality, determinism, bad options.
@Suite(.serialized) struct DemoCommandTests {
    private func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// A value as sorted-key JSON text, so nested objects compare by content.
    private func canonical(_ value: Any?) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: ["v": value ?? NSNull()], options: [.sortedKeys, .fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }

    @Test func recordingReplaysToTheSameStateAndMigrationFigures() throws {
        let rec = "/tmp/encmon-e2e-\(getpid())-demo.rec"
        unlink(rec)
        defer { unlink(rec) }
        let demo = try run(Built.encmon, ["demo", "--scenario", "migrate", "--seed", "3", "--json", "--record", rec])
        #expect(demo.status == 0, "\(demo.stderr)")
        let replay = try run(Built.encmon, ["replay", rec, "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let a = try json(demo.stdout), b = try json(replay.stdout)
        // Everything the model derived must match; only the source's own description differs.
        let sourceFields: Set<String> = ["source", "lines", "skipped"]
        for key in a.keys.sorted() where !sourceFields.contains(key) {
            #expect(try canonical(a[key]) == canonical(b[key]), "field \(key) differs after replay")
        }
        let migration = try #require(a["migration"] as? [String: Any])
        #expect(migration["status"] as? String == "completed")
        let passes = try #require(migration["passes"] as? [[String: Any]])
        #expect(passes.count >= 2)
        for p in passes {
            let resent = try #require(p["pagesResentForEncryption"] as? Int)
            let changed = try #require(p["pagesChangedState"] as? Int)
            #expect(resent <= changed, "pass \(p["pass"] ?? "?")")
            #expect(p["observedStateChanges"] as? Int == changed, "monitor and simulator disagree on pass \(p["pass"] ?? "?")")
        }
    }

    @Test func sameSeedSameSummaryOtherSeedOther() throws {
        let one = try run(Built.encmon, ["demo", "--scenario", "steady", "--seed", "5", "--json"])
        let two = try run(Built.encmon, ["demo", "--scenario", "steady", "--seed", "5", "--json"])
        let other = try run(Built.encmon, ["demo", "--scenario", "steady", "--seed", "6", "--json"])
        #expect(one.status == 0 && two.status == 0 && other.status == 0)
        #expect(one.stdout == two.stdout)
        #expect(one.stdout != other.stdout)
    }

    @Test func badDemoOptionsNameTheOption() throws {
        for (args, mention) in [(["--mem", "3"], "memory"), (["--mem", "lots"], "--mem"),
                                (["--scenario", "nope"], "--scenario"), (["--speed", "0"], "--speed")] {
            let r = try run(Built.encmon, ["demo", "--json"] + args)
            #expect(r.status == 64, "\(args)")
            #expect(r.stderr.contains(mention), "\(args): \(r.stderr)")
        }
    }

    @Test func recordRefusesAFileThatIsNotARecording() throws {
        let path = writeTemp("not-a-recording.txt", "precious data\n")
        defer { unlink(path) }
        let r = try run(Built.encmon, ["demo", "--scenario", "boot", "--json", "--record", path])
        #expect(r.status != 0)
        #expect(r.stderr.contains(path))
        #expect(try readFile(path) == "precious data\n")
    }
}

/// Extreme and contradictory options: each is refused with a message naming the option and
/// the reason (exit 64), quickly, instead of hanging or crashing.
@Suite(.serialized) struct DemoLimitTests {
    @Test(arguments: [
        (["--bandwidth", "1"], "--bandwidth 1 is too low"),
        (["--mem", "1T"], "--mem must be a guest memory size from 256M to 64G"),
        (["--dirty-rate", "1e12"], "--dirty-rate must be a number of pages per second"),
        (["--churn-rate", "1e9"], "--churn-rate must be a number of conversions per second"),
        (["--churn-window", "1e15"], "--churn-window must be more than 0"),
        (["--seed", "-1"], "--seed must be a whole number"),
        (["--speed", "-1"], "--speed must be positive"),
        (["--delay", "-1"], "--delay must be between"),
        (["--iterations", "-3"], "--iterations must be at least 1"),
        (["--dirty-rate", "-5"], "not '-5'"),
    ])
    func extremeValuesAreRefused(args: [String], message: String) throws {
        let r = try run(Built.encmon, ["demo", "--json"] + args)
        #expect(r.status == 64, "\(args): \(r.stderr)")
        #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        #expect(!r.stderr.contains("Missing value"), "\(args)")
        #expect(r.stdout.isEmpty)
    }

    @Test func liveTargetWithASubcommandIsRefused() throws {
        for sub in [["demo", "--json"], ["replay", "x.txt", "--json"]] {
            let r = try run(Built.encmon, ["--vm", "3"] + sub)
            #expect(r.status == 64, "\(sub)")
            #expect(r.stderr.contains("--vm 3") && r.stderr.contains("cannot be combined"), "\(r.stderr)")
        }
    }

    /// The largest dirty rate finishes: the migration stalls and fails by itself, saying so.
    @Test func largestAllowedValuesFinish() throws {
        let r = try run(Built.encmon, ["demo", "--scenario", "migrate", "--json", "--mem", "512M", "--dirty-rate", "1048576",
                                       "--bandwidth", "64M"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"status\": \"failed\""), "\(r.stdout.prefix(400))")
        #expect(r.stdout.contains("does not converge"))
    }

    @Test func recordRefusesAnExistingRecordingUnlessForced() throws {
        let rec = "/tmp/encmon-e2e-\(getpid())-force.rec"
        unlink(rec)
        defer { unlink(rec) }
        let first = try run(Built.encmon, ["demo", "--scenario", "boot", "--json", "--record", rec])
        #expect(first.status == 0, "\(first.stderr)")
        let recorded = try readFile(rec)
        let again = try run(Built.encmon, ["demo", "--scenario", "boot", "--json", "--record", rec])
        #expect(again.status == 73)
        #expect(again.stderr.contains("--force"), "\(again.stderr)")
        #expect(try readFile(rec) == recorded)
        let forced = try run(Built.encmon, ["demo", "--scenario", "boot", "--seed", "2", "--json", "--record", rec, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let replaced = try readFile(rec)
        #expect(replaced != recorded)
        #expect(replaced.components(separatedBy: "encmon-recording 1").count == 2, "one header: one run")
    }
}
