/// What the QMP source knows about its connection: structured, for the header and JSON.
public struct QMPConnectionState: Sendable, Hashable {
    public enum Phase: Sendable, Hashable {
        case connecting
        case connected
        /// The connection failed or ended; the watcher tries again every `reconnectDelay`.
        case lost(reason: String)
    }
    /// How migration progress is followed.
    public enum Mode: String, Sendable, Hashable {
        /// The `events` capability is on: MIGRATION / MIGRATION_PASS trigger an immediate
        /// query-migrate, besides the regular poll.
        case events
        /// The capability is off and encmon does not turn it on: query-migrate polling only.
        case polling
    }
    public var socketPath: String
    public var phase: Phase = .connecting
    public var qemuVersion: String?
    /// `query-status`: running, paused, inmigrate, postmigrate, ...
    public var runState: String?
    public var sev: QMPSEVState?
    public var mode: Mode?
    public var pollInterval: Double
    public var queries: UInt64 = 0
    public var events: UInt64 = 0
    /// Events the client dropped because too many queued up (all connections together).
    public var droppedEvents: UInt64 = 0
    /// query-migrate replies that could not be used (a status newer than this encmon).
    public var unreadableReplies: UInt64 = 0
    public var lastUnreadable: String?

    /// One line for the header: what is connected and how it is followed.
    public var summary: String {
        switch phase {
        case .connecting:
            return "connecting"
        case .lost(let reason):
            return "no QEMU: \(reason); retrying"
        case .connected:
            // Most telling first: the header cuts the end off on narrow screens.
            var parts: [String] = []
            switch mode {
            case .events?: parts.append("migration events on, query-migrate every \(pollText)")
            case .polling?: parts.append("migration events off: polling query-migrate every \(pollText)")
            case nil: break
            }
            if let sev { parts.append(sev.description) }
            if let runState { parts.append("VM \(runState)") }
            parts.append("QEMU \(qemuVersion ?? "?")")
            if let lastUnreadable { parts.append("\(unreadableReplies) unreadable replies (last: \(lastUnreadable))") }
            return parts.joined(separator: ", ")
        }
    }

    private var pollText: String {
        pollInterval < 1 ? "\(Int((pollInterval * 1000).rounded())) ms" : "\(pollInterval) s"
    }
}

/// The QMP producer: connects, reads SEV and run state, then samples `query-migrate` every
/// `pollInterval` and at each MIGRATION / MIGRATION_PASS event, emitting `.migrationProgress`
/// stamped with CLOCK_MONOTONIC at receipt. It never changes migration capabilities. A lost
/// connection is reported in the status and retried; only cancellation ends `run`.
public struct QMPMigrationWatcher: Sendable {
    public var socketPath: String
    public var pollInterval: Double = 0.5
    public var commandTimeout: Double = 3
    public var reconnectDelay: Double = 1

    public init(socketPath: String) { self.socketPath = socketPath }

    public func run(_ context: PushContext) {
        var state = QMPConnectionState(socketPath: socketPath, pollInterval: pollInterval)
        while !context.isCancelled {
            state.phase = .connecting
            publish(state, context)
            do {
                let client = try QMPClient(path: socketPath, timeout: commandTimeout, cancellation: context.cancellation)
                defer { client.close() }
                state.qemuVersion = client.version?.description
                state.phase = .connected
                try follow(client, &state, context)
            } catch .cancelled {
                return
            } catch {
                state.phase = .lost(reason: error.description)
                state.runState = nil
                publish(state, context)
                _ = try? waitForReadable(context.cancellation.fileDescriptor, or: context.cancellation,
                                         timeoutMilliseconds: Int32(reconnectDelay * 1000))
            }
        }
    }

    private func follow(_ client: QMPClient, _ state: inout QMPConnectionState, _ context: PushContext) throws(QMPError) {
        state.sev = try querySEV(client)
        state.mode = try readMode(client)
        var lastStatus: MigrationStatus?
        let droppedBefore = state.droppedEvents
        while true {
            try sampleAndPublish(client, &state, context, &lastStatus, droppedBefore: droppedBefore)
            let next = SourceClock.monotonicNow() + pollInterval
            while case let left = next - SourceClock.monotonicNow(), left > 0 {
                guard let event = try client.nextEvent(timeout: left) else { break }
                state.events += 1
                if event.name == "MIGRATION" || event.name == "MIGRATION_PASS" {
                    try sampleAndPublish(client, &state, context, &lastStatus, droppedBefore: droppedBefore)
                }
            }
        }
    }

    private func sampleAndPublish(_ client: QMPClient, _ state: inout QMPConnectionState, _ context: PushContext,
                                  _ lastStatus: inout MigrationStatus?, droppedBefore: UInt64) throws(QMPError) {
        let status = try sample(client, &state, context)
        // A migration starting: the operator (or libvirt) may just have turned events on, and a
        // SEV guest's state moves to send-update.
        if let status, !status.isIdle, lastStatus?.isIdle ?? true {
            state.mode = try readMode(client)
            if case .sev = state.sev { state.sev = try querySEV(client) }
        }
        if status != nil { lastStatus = status }
        state.droppedEvents = droppedBefore &+ client.droppedEvents
        publish(state, context)
    }

    private func readMode(_ client: QMPClient) throws(QMPError) -> QMPConnectionState.Mode {
        try QMPMigrationInfo.eventsEnabled(capabilities: client.execute("query-migrate-capabilities")) ? .events : .polling
    }

    /// query-status and query-migrate; emits the progress. Returns the migration status.
    private func sample(_ client: QMPClient, _ state: inout QMPConnectionState, _ context: PushContext) throws(QMPError) -> MigrationStatus? {
        state.runState = try client.execute("query-status")["status"]?.string
        let reply = try client.execute("query-migrate")
        let receivedAt = SourceClock.monotonicNow()
        state.queries += 2
        let progress: MigrationProgress?
        do {
            progress = try QMPMigrationInfo.progress(from: reply, time: receivedAt)
        } catch {
            // A status newer than this encmon: say so, keep the connection.
            state.unreadableReplies += 1
            state.lastUnreadable = error.description
            return nil
        }
        guard let progress else { return nil }
        context.emit(.migrationProgress(progress))
        return progress.status
    }

    /// `"enabled": false` and an error reply (no SEV support in this QEMU or target) both mean
    /// "not a SEV guest".
    private func querySEV(_ client: QMPClient) throws(QMPError) -> QMPSEVState {
        do {
            return QMPSEVState(reply: try client.execute("query-sev"))
        } catch .commandFailed {
            return .notSEV
        }
    }

    private func publish(_ state: QMPConnectionState, _ context: PushContext) {
        let position = state.summary
        let count = state.queries + state.events
        let unreadable = state.unreadableReplies
        let dropped = state.droppedEvents
        context.updateStatus { s in
            s.position = position
            s.lines = count
            s.malformedLines = unreadable
            s.droppedEvents = dropped
        }
    }

    /// A push source running this watcher on its own thread.
    public func makeSource() throws(PushSourceError) -> PushEventSource {
        let watcher = self
        let source = try PushEventSource(status: SourceStatus(kind: .live, name: "QMP \(socketPath)", position: "connecting"),
                                         clock: .monotonic) { context in watcher.run(context) }
        return source
    }
}
