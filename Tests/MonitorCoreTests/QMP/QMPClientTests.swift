import Foundation
import Testing
@testable import MonitorCore

@Suite(.timeLimit(.minutes(1))) struct QMPClientTests {
    @Test func handshakeReadsTheVersionAndRepliesAreMatchedByID() throws {
        let (fd, done) = FakeQMPPeer.start { peer in
            peer.handshake()
            guard let c = peer.readCommand() else { return }
            // A stale reply for another id, then an event, then the real reply.
            peer.send(#"{"return": {"status": "stale"}, "id": \#(c.id + 100)}"# + "\r\n")
            peer.send(#"{"timestamp": {"seconds": 1767225700, "microseconds": 5012}, "event": "MIGRATION_PASS", "data": {"pass": 3}}"# + "\r\n")
            peer.send(#"{"return": {"status": "running", "running": true}, "id": \#(c.id)}"# + "\r\n")
        }
        defer { done.wait() }
        let client = try QMPClient(adopting: fd, timeout: 5, cancellation: CancellationSignal())
        #expect(client.version?.description == "7.2.0")
        let status = try client.execute("query-status")
        #expect(status["status"]?.string == "running")
        let event = try #require(try client.nextEvent(timeout: 0))
        #expect(event.name == "MIGRATION_PASS")
        #expect(event.data["pass"]?.uint64 == 3)
        #expect(event.qemuWallClock == 1767225700.005012)
        #expect(event.receivedAt > 0)
        client.close()
    }

    @Test func partialReadsAssembleWholeMessages() throws {
        let (fd, done) = FakeQMPPeer.start { peer in
            peer.trickle(FakeQMPPeer.greeting)
            guard let c1 = peer.readCommand() else { return }
            peer.trickle(#"{"return": {}, "id": \#(c1.id)}"# + "\r\n")
            guard let c2 = peer.readCommand() else { return }
            peer.trickle(#"{"event": "MIGRATION", "data": {"status": "active"}, "timestamp": {"seconds": 1, "microseconds": 0}}"# + "\r\n"
                         + #"{"return": {"status": "active", "ram": {"transferred": 123456789012}}, "id": \#(c2.id)}"# + "\r\n", chunk: 3)
            _ = peer.readCommand()  // stays connected until the client closes
        }
        defer { done.wait() }
        let client = try QMPClient(adopting: fd, timeout: 5, cancellation: CancellationSignal())
        let reply = try client.execute("query-migrate")
        #expect(reply["ram"]?["transferred"]?.uint64 == 123_456_789_012)
        #expect(try client.nextEvent(timeout: 0)?.data["status"]?.string == "active")
        #expect(try client.nextEvent(timeout: 0.05) == nil)
        client.close()
    }

    @Test func queuedEventsAreBounded() throws {
        let extra = 10
        let (fd, done) = FakeQMPPeer.start { peer in
            peer.handshake()
            guard let c = peer.readCommand() else { return }
            var burst = ""
            for i in 0..<(QMPClient.maxPendingEvents + extra) {
                burst += #"{"event": "MIGRATION_PASS", "data": {"pass": \#(i)}}"# + "\r\n"
            }
            peer.send(burst + #"{"return": {}, "id": \#(c.id)}"# + "\r\n")
            _ = peer.readCommand()
        }
        defer { done.wait() }
        let client = try QMPClient(adopting: fd, timeout: 10, cancellation: CancellationSignal())
        _ = try client.execute("query-migrate")
        #expect(client.droppedEvents == UInt64(extra))
        // The oldest were dropped: the first one left is number `extra`.
        #expect(try client.nextEvent(timeout: 0)?.data["pass"]?.uint64 == UInt64(extra))
        client.close()
    }

    @Test func anErrorReplyNamesTheCommandAndClass() throws {
        let (fd, done) = FakeQMPPeer.start { peer in
            peer.handshake()
            guard let c = peer.readCommand() else { return }
            peer.send(#"{"error": {"class": "GenericError", "desc": "SEV feature is not available"}, "id": \#(c.id)}"# + "\r\n")
            guard let c2 = peer.readCommand() else { return }
            peer.send(#"{"return": {"enabled": false}, "id": \#(c2.id)}"# + "\r\n")
        }
        defer { done.wait() }
        let client = try QMPClient(adopting: fd, timeout: 5, cancellation: CancellationSignal())
        #expect(throws: QMPError.commandFailed(command: "query-sev", errorClass: "GenericError", description: "SEV feature is not available")) {
            try client.execute("query-sev")
        }
        // The connection stays usable after an error reply.
        #expect(try client.execute("query-sev")["enabled"]?.bool == false)
        client.close()
    }

    @Test func aPeerThatClosesMidReplyIsReportedAsClosed() throws {
        let (fd, done) = FakeQMPPeer.start { peer in
            peer.handshake()
            guard peer.readCommand() != nil else { return }
            peer.send(#"{"return": {"status": "act"#)
        }
        defer { done.wait() }
        let client = try QMPClient(adopting: fd, timeout: 5, cancellation: CancellationSignal())
        defer { client.close() }
        do {
            _ = try client.execute("query-migrate")
            Issue.record("expected the closed connection to be reported")
        } catch {
            guard case .closed(let what) = error else { Issue.record("unexpected \(error)"); return }
            #expect(what.contains("rest of a message"))
        }
    }

    @Test func aSilentPeerTimesOut() throws {
        let (fd, done) = FakeQMPPeer.start { peer in
            peer.handshake()
            _ = peer.readCommand()
            _ = peer.readCommand()  // waits until the client closes
        }
        defer { done.wait() }
        let client = try QMPClient(adopting: fd, timeout: 0.2, cancellation: CancellationSignal())
        #expect(throws: QMPError.timedOut(waitingFor: "query-migrate", seconds: 0.2)) { try client.execute("query-migrate") }
        client.close()
    }

    @Test func anOversizedLineIsRefused() throws {
        let (fd, done) = FakeQMPPeer.start { peer in
            peer.handshake()
            guard peer.readCommand() != nil else { return }
            peer.send(#"{"return": ""# + String(repeating: "x", count: 10_000))
            _ = peer.readCommand()
        }
        defer { done.wait() }
        let client = try QMPClient(adopting: fd, timeout: 5, maxLineBytes: 4096, cancellation: CancellationSignal())
        #expect(throws: QMPError.lineTooLong(limit: 4096)) { try client.execute("query-migrate") }
        client.close()
    }

    @Test func somethingThatIsNotQMPIsRefused() throws {
        let (fd, done) = FakeQMPPeer.start { peer in
            peer.send("SSH-2.0-OpenSSH_9.2\r\n")
        }
        defer { done.wait() }
        #expect(throws: QMPError.self) { try QMPClient(adopting: fd, timeout: 5, cancellation: CancellationSignal()) }
    }

    @Test func cancellationEndsAWait() throws {
        let (fd, done) = FakeQMPPeer.start { peer in
            peer.handshake()
            _ = peer.readCommand()
        }
        defer { done.wait() }
        let signal = try CancellationSignal()
        let client = try QMPClient(adopting: fd, timeout: 60, cancellation: signal)
        signal.cancel()
        #expect(throws: QMPError.cancelled) { try client.nextEvent(timeout: 60) }
        client.close()
    }
}

@Suite struct QMPLineFramerTests {
    /// Random chunkings of random lines give back the same lines (reference: split on "\n").
    @Test func anyChunkingYieldsTheSameLines() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let lines = (0..<Int.random(in: 1...8, using: &rng)).map { _ in
                String((0..<Int.random(in: 1...40, using: &rng)).map { _ in "abc{}\":, \r".randomElement(using: &rng)! })
            }
            let stream = Array(lines.joined(separator: "\n").utf8) + [10]
            var framer = QMPLineFramer(maxLineBytes: 100)
            var got: [String] = []
            var i = 0
            while i < stream.count {
                let n = Int.random(in: 1...9, using: &rng)
                let part = Array(stream[i..<min(stream.count, i + n)])
                part.withUnsafeBytes { framer.append($0) }
                while let l = try framer.nextLine() { got.append(String(decoding: l, as: UTF8.self)) }
                i += n
            }
            let expected = lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }.filter { !$0.isEmpty }
            #expect(got == expected)
            #expect(!framer.hasPartialLine)
        }
    }
}
