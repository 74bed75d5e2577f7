import SystemLibc
import LiveHost
import Synchronization

/// Finds VMs as `encmon list` does (HostVMDiscovery), every `interval` seconds, so each VM gets a
/// model from the moment it appears, before its first traced event, named as `encmon list` names it.
public final class VMDiscoveryFeed: ProcessEventFeed {
    let discovery: HostVMDiscovery
    let interval: Double
    private let stopSignal = Mutex<(stopped: Bool, thread: pthread_t?)>((false, nil))

    public init(discovery: HostVMDiscovery = HostVMDiscovery(), interval: Double = 2) {
        self.discovery = discovery
        self.interval = interval
    }

    public var description: String { "VM discovery every \(interval) s" }

    public func start(resumeCursor: UInt64?, deliver: @escaping @Sendable ([FeedItem]) -> Void) throws {
        let body = DiscoveryLoop(discovery: discovery, interval: interval, deliver: deliver,
                                 stopped: { [self] in stopSignal.withLock { $0.stopped } })
        var t = pthread_t()
        let box = Unmanaged.passRetained(body)
        let rc = pthread_create(&t, nil, { raw in
            Unmanaged<DiscoveryLoop>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            throw DaemonError.feed("cannot start the discovery thread: \(String(cString: strerror(rc)))")
        }
        stopSignal.withLock { $0.thread = t }
    }

    public func stop() {
        let t = stopSignal.withLock { s -> pthread_t? in
            s.stopped = true
            defer { s.thread = nil }
            return s.thread
        }
        if let t { pthread_join(t, nil) }
    }
}

/// The discovery thread: scans, reports VMs not reported before, sleeps in short steps so
/// `stop` returns quickly.
private final class DiscoveryLoop: Sendable {
    let discovery: HostVMDiscovery
    let interval: Double
    let deliver: @Sendable ([FeedItem]) -> Void
    let stopped: @Sendable () -> Bool

    init(discovery: HostVMDiscovery, interval: Double, deliver: @escaping @Sendable ([FeedItem]) -> Void,
         stopped: @escaping @Sendable () -> Bool) {
        self.discovery = discovery; self.interval = interval; self.deliver = deliver; self.stopped = stopped
    }

    func run() {
        var reported = Set<Int32>()
        while !stopped() {
            if let vms = try? discovery.list() {
                let fresh = vms.filter { !reported.contains($0.pid) }
                reported = Set(vms.map(\.pid))
                if !fresh.isEmpty { deliver(fresh.map { .discovered(pid: $0.pid, name: $0.name) }) }
            }
            var waited = 0.0
            while waited < interval && !stopped() {
                usleep(50_000)
                waited += 0.05
            }
        }
    }
}

/// Several feeds as one: each runs on its own thread and delivers to the same daemon.
public final class CombinedFeed: ProcessEventFeed {
    public let feeds: [any ProcessEventFeed]
    public init(_ feeds: [any ProcessEventFeed]) { self.feeds = feeds }
    public var description: String { feeds.map(\.description).joined(separator: " + ") }

    /// Only one feed may use cursors (the event feed); it gets the saved one.
    public func start(resumeCursor: UInt64?, deliver: @escaping @Sendable ([FeedItem]) -> Void) throws {
        var started: [any ProcessEventFeed] = []
        do {
            for f in feeds {
                try f.start(resumeCursor: f is VMDiscoveryFeed ? nil : resumeCursor, deliver: deliver)
                started.append(f)
            }
        } catch {
            for f in started { f.stop() }
            throw error
        }
    }

    public func stop() { for f in feeds { f.stop() } }
}
