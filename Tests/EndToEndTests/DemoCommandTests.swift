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
