import SystemLibc
import LiveHost
import MonitorCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Everything `encmon serve` is told on its command line.
public struct DaemonConfiguration: Sendable {
    public var socketPath = "/run/encmon/encmon.sock"
    public var socketMode: mode_t = 0o660
    /// The group that may connect (nil: the daemon's own group).
    public var socketGroup: (id: UInt32, name: String)?
    public var stateDirectory = "/var/lib/encmon"
    /// Where `/metrics` is served; nil for no HTTP listener.
    public var metrics: (host: String, port: Int)?
    public var journalMaxBytes: UInt64 = 64 << 20
    public var model = MonitorConfiguration()
    public var version = "0"
    public init() {}
}

/// Why the daemon cannot start.
public enum DaemonError: Error, CustomStringConvertible, Sendable {
    case stateDirectory(path: String, errno: Int32)
    case socket(path: String, reason: String)
    case metrics(address: String, reason: String)
    case feed(String)

    public var description: String {
        switch self {
        case .stateDirectory(let p, let e): "state directory \(p): \(String(cString: strerror(e)))"
        case .socket(let p, let r): "socket \(p): \(r)"
        case .metrics(let a, let r): "metrics address \(a): \(r)"
        case .feed(let r): "event feed: \(r)"
        }
    }
}

/// `encmon serve`: one event loop owns the process table; the feed's thread hands batches to it;
/// the Unix-socket protocol and the HTTP metrics listener run on the same loop, so no state is
/// shared across threads.
public final class Daemon: Sendable {
    public let configuration: DaemonConfiguration
    private let feed: any ProcessEventFeed
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channels = Mutex<[any Channel]>([])
    private let table: NIOLoopBound<ProcessTable>
    private let pendingBatches = Atomic<Int>(0)
    private let droppedItems = Atomic<UInt64>(0)
    /// Batches queued for the loop before the feed's batches are dropped (and counted as lost).
    static let maxPendingBatches = 1024

    public init(configuration: DaemonConfiguration, feed: any ProcessEventFeed) throws {
        self.configuration = configuration
        self.feed = feed
        try Self.makeDirectory(configuration.stateDirectory, mode: 0o700)
        let epoch = TrackingEpoch.load(stateDirectory: configuration.stateDirectory)
        let loop = group.next()
        table = try loop.submit {
            NIOLoopBound(ProcessTable(stateDirectory: configuration.stateDirectory, configuration: configuration.model,
                                      journalMaxBytes: configuration.journalMaxBytes, trackingEpoch: epoch), eventLoop: loop)
        }.wait()
    }

    /// The address `/metrics` is served on (with the real port when 0 was asked for).
    public private(set) var metricsAddress: SocketAddress? {
        get { metricsAddressBox.withLock { $0 } }
        set { metricsAddressBox.withLock { $0 = newValue } }
    }
    private let metricsAddressBox = Mutex<SocketAddress?>(nil)

    /// Rebuilds the models from the journals, binds the socket and the metrics listener, and starts the feed.
    public func start() throws {
        let loop = table.eventLoop
        let table = self.table
        let (warnings, cursor) = try loop.submit { () -> ([String], UInt64?) in
            table.value.restore()
            return (table.value.takeWarnings(), table.value.savedCursor)
        }.wait()
        for w in warnings { Self.log(w) }
        try bindSocket()
        if let m = configuration.metrics { try bindMetrics(host: m.host, port: m.port) }
        do { try feed.start(resumeCursor: cursor) { [self] items in deliver(items) } } catch {
            throw DaemonError.feed("\(error)")
        }
        _ = loop.scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) { _ in
            table.value.noticeExits()
            for w in table.value.takeWarnings() { Self.log(w) }
        }
    }

    /// Stops the feed, closes the listeners and removes the socket file.
    public func stop() {
        feed.stop()
        for c in channels.withLock({ $0 }) { try? c.close().wait() }
        unlink(configuration.socketPath)
        try? group.syncShutdownGracefully()
    }

    /// Called on the feed's thread: queues the batch for the loop, or drops it when the loop is
    /// far behind (the loss is applied like a ring-buffer overrun).
    private func deliver(_ items: [FeedItem]) {
        let table = self.table
        if pendingBatches.load(ordering: .relaxed) >= Self.maxPendingBatches {
            droppedItems.add(UInt64(items.count), ordering: .relaxed)
            return
        }
        pendingBatches.add(1, ordering: .relaxed)
        let dropped = droppedItems.exchange(0, ordering: .relaxed)
        table.eventLoop.execute { [self] in
            pendingBatches.subtract(1, ordering: .relaxed)
            var batch = items
            if dropped > 0, let t = Self.firstTime(items) { batch.insert(.lost(time: t, count: dropped), at: 0) }
            table.value.apply(batch)
        }
    }

    private static func firstTime(_ items: [FeedItem]) -> EventTime? {
        for i in items {
            if case .event(_, let e) = i { return e.time }
            if case .lost(let t, _) = i { return t }
        }
        return nil
    }

    private func bindSocket() throws {
        let path = configuration.socketPath
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty { try Self.makeDirectory(parent, mode: 0o755) }
        let policy = AccessPolicy(groupID: configuration.socketGroup?.id ?? getgid(),
                                  groupName: configuration.socketGroup?.name ?? "gid \(getgid())")
        let table = self.table
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .childChannelInitializer { channel in
                PeerCredentials.of(channel).flatMapThrowing { peer in
                    let sync = channel.pipeline.syncOperations
                    guard policy.allows(peer) else {
                        try sync.addHandler(RefusalHandler(.permissionDenied(uid: peer.uid, group: policy.groupName)))
                        return
                    }
                    try sync.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: DaemonRequest.maxLineBytes)))
                    try sync.addHandler(ProtocolHandler(table: table, socketPath: path))
                }
            }
        // Bind under a strict umask so the socket is never reachable with wider rights than asked.
        let oldMask = umask(0o077)
        let bound: any Channel
        do {
            bound = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).wait()
            umask(oldMask)
        } catch {
            umask(oldMask)
            throw DaemonError.socket(path: path, reason: "\(error)")
        }
        channels.withLock { $0.append(bound) }
        if let g = configuration.socketGroup, chown(path, uid_t.max, g.id) != 0 {
            throw DaemonError.socket(path: path, reason: "chown to group \(g.name): \(String(cString: strerror(errno)))")
        }
        guard chmod(path, configuration.socketMode) == 0 else {
            throw DaemonError.socket(path: path, reason: "chmod: \(String(cString: strerror(errno)))")
        }
    }

    private func bindMetrics(host: String, port: Int) throws {
        let table = self.table
        let version = configuration.version
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(MetricsHTTPHandler { MetricsRenderer.render(table.value.processes, version: version) })
                }
            }
        do {
            let bound = try bootstrap.bind(host: host, port: port).wait()
            channels.withLock { $0.append(bound) }
            metricsAddress = bound.localAddress
        } catch {
            throw DaemonError.metrics(address: "\(host):\(port)", reason: "\(error)")
        }
    }

    static func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
        if errno == ENOENT {
            let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            if !parent.isEmpty {
                try makeDirectory(parent, mode: 0o755)
                if mkdir(path, mode) == 0 || errno == EEXIST { return }
            }
        }
        throw DaemonError.stateDirectory(path: path, errno: errno)
    }

    static func log(_ line: String) {
        let text = "encmon serve: \(line)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}

/// When tracking began in a state directory, in CLOCK_BOOTTIME seconds: a process that started
/// later was seen from its start. Kept in the state directory with the boot id, so a restarted
/// daemon keeps it and a reboot starts anew.
enum TrackingEpoch {
    static func load(stateDirectory: String) -> Double {
        let path = stateDirectory + "/tracking-epoch"
        let bootID = FileSystemCalls.readSmallText("/proc/sys/kernel/random/boot_id")?.filter { !$0.isWhitespace } ?? ""
        if let text = FileSystemCalls.readSmallText(path) {
            let f = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if f.count == 2, String(f[0]) == bootID, let e = Double(f[1]) { return e }
        }
        let now = ProcFS.bootTimeNow()
        // Best effort: without it a restarted daemon only starts a new epoch.
        try? ProcessJournal.writeAtomically(path, Array("\(bootID) \(now)\n".utf8), sync: false)
        return now
    }
}
