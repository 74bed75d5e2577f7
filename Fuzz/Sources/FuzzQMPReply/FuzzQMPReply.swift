import FuzzSupport
@testable import MonitorCore   // the framer and message decoder are internal (built with -enable-testing)

/// A QMP stream from a hostile or broken QEMU: framed into lines (the limit from the first byte),
/// each decoded as greeting, reply or event; every reply is read as `query-migrate`,
/// `query-sev` and `query-migrate-capabilities` would be, and the migration reports go through
/// the model and the screen.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQMPReply(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    var framer = QMPLineFramer(maxLineBytes: 64 + Int(data[0]) * 32)
    framer.append(UnsafeRawBufferPointer(start: data + 1, count: size - 1))
    var events: [MonitorEvent] = []
    var time: EventTime = 0
    while true {
        let line: ArraySlice<UInt8>
        do {
            guard let next = try framer.nextLine() else { break }
            line = next
        } catch {
            break   // an over-long line: the client drops the connection
        }
        time += 0.5
        guard let message = try? QMPMessage.decode(line, receivedAt: time) else { continue }
        switch message {
        case .success(_, let result):
            if let p = try? QMPMigrationInfo.progress(from: result, time: time) { events.append(.migrationProgress(p)) }
            _ = QMPSEVState(reply: result).description
            _ = QMPMigrationInfo.eventsEnabled(capabilities: result)
        case .event(let e):
            _ = e.data["status"]?.string
        case .greeting(let v):
            _ = v.description
        case .failure:
            break
        }
    }
    FuzzPipeline.exercise(events, status: FuzzPipeline.status(lines: UInt64(events.count), skipped: 0, malformed: 0, lost: 0))
    return 0
}
