#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// `encmon replay --follow` (like `tail -f`) against a writer process, for ftrace text and for a
/// recording (`scripts/follow-e2e.sh`): lines appended while replaying are read, a line written in
/// two halves is read once whole, a truncated and rewritten file is read again from its start,
/// and SIGTERM ends the run with 128+15.
@Suite(.serialized) struct FollowReplayTests {
    static let script = Built.repositoryRoot + "/scripts/follow-e2e.sh"

    @Test(arguments: ["ftrace", "recording"])
    func growingAndTruncatedFileIsFollowed(kind: String) throws {
        let file = "/tmp/encmon-e2e-\(getpid())-follow-\(kind)"
        defer { unlink(file) }
        let r = try run("/usr/bin/timeout", ["-k", "5", "60", "/bin/bash", Self.script, Built.encmon, file, kind])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let frames = try lines.filter { $0.hasPrefix("{") }.map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(lines.contains("[exit=143]"), "\(r.stdout.suffix(400))")
        let events = frames.compactMap { $0["events"] as? Int }
        #expect(events.contains(5) && events.contains(11), "frames saw \(events)")
        #expect(events == events.sorted(), "event counts went backwards: \(events)")
        let last = try #require(frames.last)
        // 5 lines, 5 appended, 1 in two halves, then 1 after the rewrite: 12 distinct pages.
        #expect(last["events"] as? Int == 12)
        #expect(last["regionCount"] as? Int == 12)
        #expect(last["sharedPages"] as? Int == 12)
        #expect(last["malformed"] as? Int == 0)
        #expect(last["partialRecordBytes"] as? Int == 0)
        #expect(last["lastEventTime"] as? Double == 9)
        let notes = lines.filter { $0.contains("truncated 1 time while following") }
        #expect(notes.count == 1, "\(r.stdout.suffix(400))")
    }

    @Test func followRefusesSummaryAndStandardInput() throws {
        let a = try run(Built.encmon, ["replay", "/dev/null", "--follow", "--summary"])
        #expect(a.status == 64 && a.stderr.contains("--follow"), "\(a.status) \(a.stderr)")
        let b = try run(Built.encmon, ["replay", "-", "--follow"])
        #expect(b.status == 64 && b.stderr.contains("--follow"), "\(b.status) \(b.stderr)")
    }
}
