import Foundation
import Synchronization
import Testing
import SystemLibc
@testable import MonitorCore

/// A scripted QEMU on a real Unix listener: serves `connections` clients in turn, each with `script`.
final class FakeQMPServer: Sendable {
    let path: String
    private let listener: Int32
    let done = DispatchSemaphore(value: 0)

    init(connections: Int, script: @escaping @Sendable (Int, FakeQMPPeer) -> Void) throws {
        path = "/tmp/encmon-fakeqmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes); raw[bytes.count] = 0 }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else { Glibc.close(fd); throw QMPError.cannotConnect(path: path, errno: errno) }
        listener = fd
        let done = self.done
        Thread {
            for n in 0..<connections {
                let client = accept(fd, nil, nil)
                if client < 0 { break }
                let peer = FakeQMPPeer(fd: client)
                script(n, peer)
                Glibc.close(client)
            }
            done.signal()
        }.start()
    }

    func close() {
        Glibc.close(listener)
        unlink(path)
    }
}

extension FakeQMPPeer {
    /// Answers commands by name until the client goes away; `after` runs after each reply.
    func serve(_ answer: (String) -> String, after: (String) -> Void = { _ in }) {
        while let c = readCommand() {
            let body = answer(c.name)
            send(body.hasPrefix("{\"error\"") ? String(body.dropLast()) + ", \"id\": \(c.id)}\r\n"
                                             : "{\"return\": \(body), \"id\": \(c.id)}\r\n")
            after(c.name)
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct QMPMigrationWatcherTests {
    /// Polls the source until `condition` holds for the events so far (or 10 s pass).
    private func collect(_ source: PushEventSource, until condition: ([MigrationProgress]) -> Bool) throws -> [MigrationProgress] {
        var all: [MonitorEvent] = []
        let end = Date().addingTimeInterval(10)
        while Date() < end {
            _ = try source.poll(until: nil, limit: 1000, into: &all)
            let progress = all.compactMap { if case .migrationProgress(let p) = $0 { p } else { nil } }
            if condition(progress) { return progress }
            usleep(10_000)
        }
        return all.compactMap { if case .migrationProgress(let p) = $0 { p } else { nil } }
    }

    @Test func anErrorFromQuerySEVIsNotASEVGuestAndEventsTriggerAQuery() throws {
        let pass = Atomic<Int>(1)
        let server = try FakeQMPServer(connections: 1) { _, peer in
            peer.handshake()
            peer.serve({ name in
                switch name {
                case "query-sev": #"{"error": {"class": "GenericError", "desc": "SEV: no support"}}"#
                case "query-migrate-capabilities": #"[{"capability": "xbzrle", "state": false}, {"capability": "events", "state": true}]"#
                case "query-status": #"{"status": "running", "running": true}"#
                case "query-migrate": #"{"status": "active", "setup-time": 2, "ram": {"dirty-sync-count": \#(pass.load(ordering: .relaxed)), "total": 100, "remaining": 50, "transferred": 50, "mbps": 8}}"#
                default: "{}"
                }
            }, after: { name in
                // After the first sample, QEMU finishes a pass and says so.
                if name == "query-migrate" && pass.load(ordering: .relaxed) == 1 {
                    pass.store(2, ordering: .relaxed)
                    peer.send(#"{"event": "MIGRATION_PASS", "data": {"pass": 2}, "timestamp": {"seconds": 1, "microseconds": 0}}"# + "\r\n")
                }
            })
        }
        defer { server.close(); server.done.wait() }
        var watcher = QMPMigrationWatcher(socketPath: server.path)
        watcher.pollInterval = 30  // only the event can bring pass 2 within the test
        let source = try watcher.makeSource()
        try source.start()
        defer { source.stop() }
        let progress = try collect(source) { $0.contains { $0.pass == 2 } }
        #expect(progress.map(\.pass).prefix(2) == [1, 2], "\(progress.map(\.pass))")
        #expect(progress.first?.setupSeconds == 0.002)
        #expect(progress.first?.bandwidthBytesPerSecond == 1e6)
        let position = source.status.position
        #expect(position.contains("not a SEV guest"), "\(position)")
        #expect(position.contains("migration events on"), "\(position)")
        #expect(position.contains("VM running"), "\(position)")
    }

    @Test func aDroppedConnectionIsReportedAndReconnected() throws {
        let server = try FakeQMPServer(connections: 2) { n, peer in
            peer.handshake()
            peer.serve({ name in
                switch name {
                case "query-sev": #"{"enabled": false}"#
                case "query-migrate-capabilities": "[]"
                case "query-status": #"{"status": "paused"}"#
                case "query-migrate": #"{"status": "active", "ram": {"dirty-sync-count": \#(n == 0 ? 3 : 7)}}"#
                default: "{}"
                }
            }, after: { name in
                if n == 0 && name == "query-migrate" { shutdown(peer.fd, Int32(SHUT_RDWR)) }
            })
        }
        defer { server.close(); server.done.wait() }
        var watcher = QMPMigrationWatcher(socketPath: server.path)
        watcher.pollInterval = 0.05
        watcher.reconnectDelay = 0.05
        let source = try watcher.makeSource()
        try source.start()
        defer { source.stop() }
        let progress = try collect(source) { $0.contains { $0.pass == 7 } }
        #expect(progress.first?.pass == 3)
        #expect(progress.contains { $0.pass == 7 }, "served again after the drop: \(progress.map(\.pass))")
        #expect(source.status.position.contains("migration events off: polling"), "\(source.status.position)")
    }
}
