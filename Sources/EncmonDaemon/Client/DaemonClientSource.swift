import MonitorCore

/// `encmon --connect SOCKET`: one process as the daemon tracks it. The subscription starts with the
/// daemon's model state (`initialModel`, which holds everything since the daemon first saw the
/// process), then delivers every event, so the viewer's model goes on exactly as the daemon's.
public final class DaemonClientSource: EventSource {
    private let connection: DaemonConnection
    private let requestID: Int64 = 1
    private var queue: [MonitorEvent] = []
    private var queueHead = 0
    private var info: DaemonReplyLine.VMInfo
    private var incompleteSince: EventTime?
    private var exited = false
    /// True once the history has arrived and updates are live.
    public private(set) var isCaughtUp = false
    public private(set) var status: SourceStatus
    /// The daemon's model at the moment of subscribing: the viewer starts from it.
    public let initialModel: Monitor

    /// Connects and subscribes to `vm`; with nil, to the only tracked process (an error names
    /// the choices when there are several).
    public init(socketPath: String, vm: ProcessSelector?) throws {
        connection = try DaemonConnection(path: socketPath)
        var selector = vm
        if selector == nil {
            let list = try connection.request(DaemonRequest(id: 0, operation: .list)).vms ?? []
            let live = list.filter { !$0.exited }
            guard live.count == 1 else {
                let names = live.map { "\($0.pid) (\($0.name))" }.joined(separator: ", ")
                throw DaemonClientError.refused(path: socketPath, code: "choose-vm",
                                                message: live.isEmpty ? "the daemon tracks no running process"
                                                    : "the daemon tracks \(live.count) processes; choose one with --vm: \(names)")
            }
            selector = .pid(live[0].pid)
        }
        let reply = try connection.request(DaemonRequest(id: requestID, operation: .subscribe, vm: selector))
        guard let vmInfo = reply.vm else { throw DaemonClientError.protocolViolation(path: socketPath, reason: "subscribe reply without vm") }
        info = vmInfo
        guard let model = reply.model else { throw DaemonClientError.protocolViolation(path: socketPath, reason: "subscribe reply without model") }
        initialModel = model
        incompleteSince = vmInfo.incompleteSince
        status = SourceStatus(kind: .daemon, name: "", position: "")
        updateStatus()
    }

    public func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        if queueHead >= queue.count && !exited { try readAvailable(timeoutMilliseconds: 0) }
        var n = 0
        while queueHead < queue.count && n < limit {
            let e = queue[queueHead]
            if let until, e.time > until { break }
            events.append(e)
            queueHead += 1
            n += 1
        }
        if queueHead == queue.count { queue.removeAll(keepingCapacity: true); queueHead = 0 }
        status.lines += UInt64(n)
        return !(exited && queueHead >= queue.count)
    }

    public func peekNextTime() throws -> EventTime? { nil }

    /// Reads until the subscription is live (for `--json`: one summary of the state now).
    public func readHistory(timeoutMilliseconds: Int32 = 30_000) throws {
        while !isCaughtUp && !exited {
            guard try readOne(timeoutMilliseconds: timeoutMilliseconds) else {
                throw DaemonClientError.protocolViolation(path: connection.path, reason: "subscription not live within \(timeoutMilliseconds) ms")
            }
        }
    }

    private func readAvailable(timeoutMilliseconds: Int32) throws {
        var budget = 64
        while budget > 0, try readOne(timeoutMilliseconds: timeoutMilliseconds) { budget -= 1 }
    }

    /// Reads one reply line; false when none was ready.
    private func readOne(timeoutMilliseconds: Int32) throws -> Bool {
        let reply: DaemonReplyLine?
        do { reply = try connection.readReply(timeoutMilliseconds: timeoutMilliseconds) } catch DaemonClientError.closed {
            exited = true
            status.position += ", daemon closed the connection"
            status.finished = true
            return false
        }
        guard let reply else { return false }
        guard reply.id == requestID else { return true }
        for line in reply.events ?? [] {
            let event: MonitorEvent
            do { event = try RecordingFormat.decode(line) } catch {
                throw DaemonClientError.protocolViolation(path: connection.path, reason: "bad event line '\(line.prefix(120))': \(error)")
            }
            if case .lostEvents(let t, _) = event, incompleteSince == nil { incompleteSince = t }
            queue.append(event)
        }
        if reply.live == true { isCaughtUp = true }
        if reply.exited == true { exited = true; status.finished = true }
        updateStatus()
        return true
    }

    private func updateStatus() {
        status.name = "\(info.name) (pid \(info.pid))"
        status.position = DaemonReply.trackingText(sawStart: info.trackingSinceStart, incompleteSince: incompleteSince, exited: exited)
        status.sawGuestStart = info.trackingSinceStart
    }
}
