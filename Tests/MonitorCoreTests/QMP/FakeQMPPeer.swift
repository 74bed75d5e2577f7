import Foundation
import SystemLibc
@testable import MonitorCore

/// The far end of a socketpair, scripted by a test: it reads the client's command lines with a
/// real JSON decoder and writes whatever bytes the script says, on its own thread.
final class FakeQMPPeer: Sendable {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    static let greeting = #"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": []}}"# + "\r\n"

    /// A connected pair: the client's descriptor and the peer running `script` on a thread.
    static func start(_ script: @escaping @Sendable (FakeQMPPeer) -> Void) -> (clientFD: Int32, done: DispatchSemaphore) {
        var fds: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let peer = FakeQMPPeer(fd: fds[1])
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            script(peer)
            close(peer.fd)
            done.signal()
        }
        thread.start()
        return (fds[0], done)
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Sends the bytes a few at a time with pauses, so the client sees partial reads.
    func trickle(_ text: String, chunk: Int = 7) {
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            send(String(decoding: bytes[i..<min(bytes.count, i + chunk)], as: UTF8.self))
            i += chunk
            usleep(2_000)
        }
    }

    /// Reads one command line; returns its `execute` and `id`, nil at end of stream.
    func readCommand() -> (name: String, id: UInt64)? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = recv(fd, &byte, 1, 0)
            if n <= 0 { return nil }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        guard let json = try? JSONDecoder().decode(QMPJSON.self, from: Data(line)),
              let name = json["execute"]?.string, let id = json["id"]?.uint64 else { return nil }
        return (name, id)
    }

    /// Greets, answers qmp_capabilities.
    func handshake() {
        send(Self.greeting)
        guard let c = readCommand() else { return }
        send(#"{"return": {}, "id": \#(c.id)}"# + "\r\n")
    }
}
