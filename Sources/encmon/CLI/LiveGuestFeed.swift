import SystemLibc
import LiveHost
import MonitorCore

/// The process `--vm` resolved to: a VM, or (with `--event`) any process.
struct LiveTarget {
    var pid: Int32
    var label: String
    var vm: HostVM?
}

/// One attachment to one guest: its tracefs reader and its KVM counters as one stream, and what
/// was read at attach. `stop()` ends both and removes the tracefs instance.
final class LiveGuestFeed {
    let target: LiveTarget
    let live: LiveTraceSource
    private let counters: PushEventSource?
    let stream: any EventSource
    /// Events to apply before the stream's (the shared set read at attach, where the kernel can).
    let initialEvents: [MonitorEvent]
    /// The whole shared set was read at attach: nothing before it is unknown.
    var fullState: Bool { !initialEvents.isEmpty }
    let since: WallTime

    /// Sets up tracing (instance, events, pid filter), starts the reader and the counters.
    /// `position` is the header's text while it runs; `say` gets the lines for the user
    /// (notes start with "note: ").
    init(target: LiveTarget, options: LiveOptions, counterInterval: Double, position: (WallTime) -> String,
         say: (String) -> Void) throws(CommandFailure) {
        let custom = options.event.flatMap(WatchedEvent.init(hypercallLike:))
        let attachment: LiveTracing.Attachment
        do { attachment = try LiveTracing.attach(pid: target.pid, customEvent: custom, bufferKilobytes: options.bufferSize) } catch {
            throw CommandFailure(message: "\(error)", exitCode: LiveExit.code(for: error))
        }
        let since = WallTime.now()
        self.since = since
        let initial = target.vm.map { LiveOptions.readStateAtAttach($0, since: since, say: say) }
        do {
            live = try LiveTraceSource(attachment: attachment, status: SourceStatus(
                kind: .live, name: target.label, position: initial?.position ?? position(since)))
        } catch {
            attachment.reader.instance.destroy()
            throw CommandFailure(message: "\(error)", exitCode: LiveExit.cannotStart)
        }
        for note in attachment.notes { say("note: " + note) }
        say("tracing \(target.label): \(attachment.events.map(\.description).joined(separator: ", ")) "
            + "in tracefs instance \(attachment.reader.instance.name)")
        do { try live.start() } catch {
            live.stop()
            throw CommandFailure(message: "\(error)", exitCode: LiveExit.cannotStart)
        }
        counters = target.vm != nil ? KVMCounterSource.start(pid: target.pid, interval: counterInterval, say: say) : nil
        let live = self.live
        stream = counters.map { MergedEventSource([live, $0]) } ?? live
        self.target = target
        initialEvents = initial?.events ?? []
    }

    deinit { stop() }

    /// Ends the counters and the reader and removes the instance. Idempotent.
    func stop() {
        counters?.stop()
        live.stop()
    }
}

/// `--vm NAME` on the screen: when the VM exits, the final state stays, the header says
/// "VM exited" and "waiting for NAME to return", and discovery is asked about once a second.
/// When a VM of that name runs again (a new process), encmon attaches to it (new instance, pid
/// filter and counters) and `status.attachment` moves on: the session starts a fresh model,
/// since nothing of the old guest's state holds for the new one. Batch runs and numeric ids do
/// not re-attach (`reattach` false): the stream ends with the VM.
final class ReattachingLiveSource: EventSource {
    private var feed: LiveGuestFeed?
    private let name: String?
    private let connect: (LiveTarget) throws(CommandFailure) -> LiveGuestFeed
    /// Whether a VM of `name` is waited for once this one exits.
    var reattach: Bool
    private var attachment = 0
    /// Delivered before the new feed's own events (a marker, the state read at attach).
    private var pending: [MonitorEvent] = []
    /// The status kept on screen after the feed stopped.
    private var finalStatus: SourceStatus?
    private var nextLook = 0.0
    private var lastProblem: String?
    /// Seconds between discovery passes while waiting.
    static let lookInterval = 1.0

    /// `name` is the `--vm` word to wait for (nil: a pid or number, no re-attach).
    init(first: LiveGuestFeed, name: String?, reattach: Bool,
         connect: @escaping (LiveTarget) throws(CommandFailure) -> LiveGuestFeed) {
        feed = first
        self.name = name
        self.reattach = reattach && name != nil
        self.connect = connect
    }

    deinit { stop() }

    /// Stops the current feed (its instance is removed). Idempotent.
    func stop() { feed?.stop() }

    /// True once the watched process exited and no other was attached since.
    private(set) var processExited = false
    /// Why tracing stopped early (instance removed, permission lost); nothing is re-attached then.
    private(set) var fault: TracefsError?

    var clock: SourceClock { .monotonic }

    func peekNextTime() throws -> EventTime? { nil }

    func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        if !pending.isEmpty {
            events.append(contentsOf: pending)
            pending.removeAll()
            return true
        }
        if let feed {
            if try feed.stream.poll(until: until, limit: limit, into: &events) { return true }
            // The VM exited, or reading failed; everything read was delivered.
            finalStatus = feed.stream.status
            fault = feed.live.fault
            processExited = fault == nil
            feed.stop()
            self.feed = nil
            if fault != nil { reattach = false }
            // The first look comes a poll later at the earliest, so the old guest's last events
            // are applied before `attachment` changes.
            nextLook = SourceClock.monotonicNow() + Self.lookInterval
            return reattach
        }
        guard reattach, let name else { return false }
        let now = SourceClock.monotonicNow()
        if now >= nextLook {
            nextLook = now + Self.lookInterval
            lookFor(name)
        }
        return true
    }

    /// One discovery pass: attach to the VM called `name` if one runs now.
    private func lookFor(_ name: String) {
        let vm: HostVM
        do { vm = try HostVMDiscovery().resolve(name) } catch {
            // Not there yet is the normal case; other answers (several VMs of that name) are shown.
            if case .notFound = error { lastProblem = nil } else { lastProblem = "\(error)" }
            return
        }
        do {
            let fresh = try connect(LiveTarget(pid: vm.pid, label: vm.label, vm: vm))
            feed = fresh
            processExited = false
            attachment += 1
            lastProblem = nil
            pending = [.marker(time: SourceClock.monotonicNow(), text: "re-attached to \(vm.label)")] + fresh.initialEvents
        } catch {
            lastProblem = "cannot attach to pid \(vm.pid): \(error.message)"
        }
    }

    var status: SourceStatus {
        if let feed {
            var s = feed.stream.status
            s.attachment = attachment
            return s
        }
        var s = finalStatus ?? SourceStatus(kind: .live, name: name ?? "?")
        s.attachment = attachment
        guard reattach, let name else { return s }
        s.state = "VM exited"
        s.finished = false
        s.position = "waiting for \(name) to return" + (lastProblem.map { " (\($0))" } ?? "")
        return s
    }
}
