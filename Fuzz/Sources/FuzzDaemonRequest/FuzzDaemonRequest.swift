#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FuzzSupport
import MonitorCore
import NIOCore
import NIOEmbedded
@testable import EncmonDaemon   // the line framer and the protocol handler are internal (-enable-testing)
import SystemLibc

/// A hostile client of `encmon serve`: the input is the byte stream on the socket, cut into
/// writes of 1-64 bytes (byte 0), through the daemon's own pipeline (`LineFrameDecoder`,
/// `ProtocolHandler`) over a table that tracks this process. Checks besides "no trap":
/// every reply is one JSON object line with `"v":1`; every line that parses as a request
/// parses the same from its re-encoded `line`; nothing is buffered past the line limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDaemonRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let chunk = 1 + Int(data[0]) % 64
    let bytes = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let channel = EmbeddedChannel()
    let table = DaemonUnderFuzz.table
    let bound = NIOLoopBound(table, eventLoop: channel.embeddedEventLoop)
    do {
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: DaemonRequest.maxLineBytes)))
        try channel.pipeline.syncOperations.addHandler(ProtocolHandler(table: bound, socketPath: "/fuzz.sock"))
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            var buffer = channel.allocator.buffer(capacity: end - start)
            buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[start..<end]))
            try channel.writeInbound(buffer)
            start = end
        }
        // An update after the requests, so a subscription streams events too.
        DaemonUnderFuzz.feedOneEvent()
        checkReplies(channel)
        checkRoundTrip(bytes)
        _ = try? channel.finish()
    } catch {
        _ = try? channel.finish()
    }
    return 0
}

private func checkReplies(_ channel: EmbeddedChannel) {
    while let reply = try? channel.readOutbound(as: ByteBuffer.self) {
        let view = reply.readableBytesView
        guard view.last == UInt8(ascii: "\n"), view.first == UInt8(ascii: "{"),
              view.dropLast().firstIndex(of: UInt8(ascii: "\n")) == nil,
              let head = try? JSONDecoder().decode(ReplyHead.self, from: Data(view.dropLast())), head.v == 1 else {
            fatalError("daemon reply is not one JSON object line with v 1: \(String(decoding: view, as: UTF8.self))")
        }
    }
}

/// What every reply line must carry.
private struct ReplyHead: Decodable { var v: Int }

/// Every newline-separated piece the daemon accepts as a request re-encodes to the same request.
private func checkRoundTrip(_ bytes: UnsafeBufferPointer<UInt8>) {
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
        guard case .success(let request) = DaemonRequest.parse(line) else { continue }
        guard case .success(let again) = DaemonRequest.parse(Array(request.line.utf8)), again == request else {
            fatalError("request does not round-trip: \(request) -> \(request.line)")
        }
    }
}

/// One process table for the whole run (journals in a directory removed at exit), tracking this
/// process so that `snapshot` and `subscribe` by pid or name find something.
private enum DaemonUnderFuzz {
    static let directory: String = {
        let d = "/tmp/encmon-fuzz-daemon-\(getpid())"
        mkdir(d, 0o700)
        atexit { _ = system("rm -rf /tmp/encmon-fuzz-daemon-\(getpid())") }
        return d
    }()

    nonisolated(unsafe) static var time: EventTime = 0
    /// Only the harness's one thread touches it (libFuzzer calls the target serially).
    nonisolated(unsafe) static let table: ProcessTable = {
        var configuration = MonitorConfiguration()
        configuration.regionCap = 64
        let t = ProcessTable(stateDirectory: directory, configuration: configuration, journalMaxBytes: 64 << 10, trackingEpoch: 0)
        t.apply([.discovered(pid: getpid(), name: "fuzz-guest")])
        return t
    }()

    static func feedOneEvent() {
        time += 0.25
        let gfn = UInt64(time * 4) % 4096
        table.apply([.event(pid: getpid(), .conversion(Conversion(time: time, pages: PageRange(first: gfn, count: 1),
                                                                            direction: gfn % 2 == 0 ? .toShared : .toPrivate, path: .hypercall)))])
    }
}
