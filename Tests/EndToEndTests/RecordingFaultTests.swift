#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Recordings under faults, through the real binary: a recording cut off mid-record (the recorder
/// crashed) replays with the partial record dropped and reported; a full disk while recording
/// stops the recording with one message while the demo runs to its end, and the file stays
/// readable.
@Suite(.serialized) struct RecordingFaultTests {
    private func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    private func fileBytes(_ path: String) -> [UInt8] {
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) } ?? []
    }

    @Test func recordingCutOffMidRecordDropsAndReportsThePartialRecord() throws {
        let rec = "/tmp/encmon-e2e-\(getpid())-cut.rec"
        unlink(rec)
        defer { unlink(rec) }
        let demo = try run(Built.encmon, ["demo", "--scenario", "boot", "--json", "--record", rec])
        try #require(demo.status == 0, "\(demo.stderr)")
        let whole = try run(Built.encmon, ["replay", rec, "--json"])
        let wholeEvents = try #require(try json(whole.stdout)["events"] as? Int)
        #expect(try json(whole.stdout)["partialRecordBytes"] as? Int == 0)
        #expect(!whole.stderr.contains("cut-off"))

        // Cut the file 7 bytes into its last line, as a crash inside write(2) would.
        var bytes = fileBytes(rec)
        let lastLineStart = (bytes.dropLast().lastIndex(of: 0x0A) ?? -1) + 1
        bytes.removeLast(bytes.count - (lastLineStart + 7))
        try Data(bytes).write(to: URL(fileURLWithPath: rec))
        let cut = try run(Built.encmon, ["replay", rec, "--json"])
        #expect(cut.status == 0, "\(cut.stderr)")
        let j = try json(cut.stdout)
        #expect(j["partialRecordBytes"] as? Int == 7)
        #expect(j["events"] as? Int == wholeEvents - 1)
        #expect(j["malformed"] as? Int == 0)
        let notes = cut.stderr.split(separator: "\n").filter { $0.contains("cut-off last record") }
        #expect(notes.count == 1, "stderr: \(cut.stderr)")
        #expect(notes.first?.contains("7 bytes") == true && notes.first?.contains("cut.rec") == true)
        // The text summary says it too.
        let text = try run(Built.encmon, ["replay", rec, "--summary"])
        #expect(text.stdout.contains("cut-off record") && text.stdout.contains("7 bytes dropped"), "\(text.stdout)")
    }

    static var isRoot: Bool { geteuid() == 0 }

    /// A 64 KiB tmpfs fills while the tour is recorded.
    @Test(.enabled(if: isRoot, "mounting a small tmpfs needs root"))
    func fullDiskStopsTheRecordingWithOneMessageAndTheRunGoesOn() throws {
        let dir = "/tmp/encmon-e2e-\(getpid())-fulldisk"
        mkdir(dir, 0o700)
        defer { rmdir(dir) }
        let mount = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir])
        try #require(mount.status == 0, "mount: \(mount.stderr)")
        defer { _ = try? run("/bin/umount", [dir]) }
        let rec = dir + "/tour.rec"
        defer { unlink(rec) }

        let demo = try run(Built.encmon, ["demo", "--json", "--record", rec])
        #expect(demo.status == 73, "exit \(demo.status): \(demo.stderr)")
        // The run went on to its end: the whole tour is in the summary.
        let summary = try json(demo.stdout)
        let events = try #require(summary["events"] as? Int)
        let stops = demo.stderr.split(separator: "\n").filter { $0.contains("recording stopped") }
        #expect(stops.count == 1, "stderr: \(demo.stderr)")
        #expect(stops.first?.contains("No space left on device") == true, "stderr: \(demo.stderr)")

        // What was recorded is whole records only, and replays.
        let size = fileBytes(rec).count
        #expect(size > 0 && size <= 64 * 1024)
        #expect(fileBytes(rec).last == 0x0A, "the file must end with a whole record")
        let replay = try run(Built.encmon, ["replay", rec, "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let r = try json(replay.stdout)
        let recorded = try #require(r["events"] as? Int)
        #expect(recorded > 0 && recorded < events, "recorded \(recorded) of \(events)")
        #expect(r["malformed"] as? Int == 0)
        #expect(r["partialRecordBytes"] as? Int == 0)
        // The message's record count is the number of records in the file.
        #expect(stops.first?.contains("after \(recorded) records") == true, "stderr: \(demo.stderr), file has \(recorded)")
    }
}
