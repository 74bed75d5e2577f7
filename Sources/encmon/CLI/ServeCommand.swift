@preconcurrency import SystemLibc
import ArgumentParser
import EncmonDaemon
import MonitorCore
import LiveHost

extension EncmonCommand {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Track every VM from its start and serve it to viewers and to Prometheus.",
            discussion: """
                Runs as root (deploy/encmon.service). Every process that fires a traced event gets \
                a model from the moment the daemon first sees it, kept in an append-only journal \
                under --state-dir, so a restarted daemon rebuilds every model. Viewers read it \
                without root through the socket (`encmon --connect SOCKET`); Prometheus scrapes \
                --metrics. Stops on SIGINT or SIGTERM.
                """
        )

        @Option(help: ArgumentHelp("Unix socket for viewers (mode 0660).", valueName: "PATH"))
        var socket = "/run/encmon/encmon.sock"

        @Option(help: ArgumentHelp("Group whose members may connect to the socket (default: the daemon's group).", valueName: "NAME"))
        var group: String?

        @Option(name: .customLong("state-dir"), help: ArgumentHelp("Where the per-VM journals live.", valueName: "DIR"))
        var stateDir = "/var/lib/encmon"

        @Option(help: ArgumentHelp("Serve Prometheus metrics at http://HOST:PORT/metrics (loopback unless HOST says otherwise).", valueName: "HOST:PORT"))
        var metrics: String?

        @Option(name: .customLong("event"), help: ArgumentHelp("Trace this tracepoint (SYSTEM:NAME); every process that fires it gets a model.", valueName: "SYSTEM:NAME"))
        var events: [String] = []

        @Option(name: .customLong("journal-max-bytes"), help: ArgumentHelp("Rewrite a VM's journal as a compacted snapshot past this size.", valueName: "BYTES"))
        var journalMaxBytes: UInt64 = 64 << 20

        /// The tests' stand-in for the kernel ring buffer: follow an encmon recording whose
        /// records carry pids (see RecordingFileFeed). Hidden: not for production.
        @Option(name: .customLong("feed-recording"), help: .hidden)
        var feedRecording: String?

        /// Socket mode for tests that check the daemon's own SO_PEERCRED refusal.
        @Option(name: .customLong("socket-mode"), help: .hidden)
        var socketMode: String = "0660"

        @OptionGroup(title: "Model") var model: ModelOptions

        func validate() throws {
            if let m = metrics { _ = try MetricsAddress.parse(m) }
            for e in events where WatchedEvent(hypercallLike: e) == nil {
                throw ValidationError("--event must be SYSTEM:NAME (for example kvm:kvm_hypercall), not '\(e)'")
            }
            guard events.count <= 1 else { throw ValidationError("--event may be given once") }
            guard journalMaxBytes >= 4096 else { throw ValidationError("--journal-max-bytes must be at least 4096, not \(journalMaxBytes)") }
            guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777 else {
                throw ValidationError("--socket-mode must be octal, like 0660")
            }
            _ = mode
        }

        func run() throws {
            var c = DaemonConfiguration()
            c.socketPath = socket
            c.socketMode = mode_t(UInt32(socketMode, radix: 8) ?? 0o660)
            c.stateDirectory = stateDir
            c.journalMaxBytes = journalMaxBytes
            c.model = model.configuration
            c.version = encmonVersion
            if let g = group {
                guard let entry = getgrnam(g) else { throw CommandFailure(message: "--group \(g): no such group", exitCode: 67) }
                c.socketGroup = (entry.pointee.gr_gid, g)
            }
            if let m = metrics { c.metrics = try MetricsAddress.parse(m) }
            // Signals are taken by sigwait on this thread: block them before any thread starts
            // and before the tracefs instance exists, so a signal during setup still removes it.
            var set = sigset_t()
            sigemptyset(&set)
            for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
            pthread_sigmask(SIG_BLOCK, &set, nil)
            let events: any ProcessEventFeed
            if let path = feedRecording {
                events = RecordingFileFeed(path: path)
            } else {
                events = try tracefsFeed()
            }
            // VMs get a model as soon as discovery finds them, before their first event.
            let feed = CombinedFeed([VMDiscoveryFeed(), events])
            let daemon: Daemon
            do {
                daemon = try Daemon(configuration: c, feed: feed)
                try daemon.start()
            } catch {
                feed.stop()
                throw CommandFailure(message: "\(error)", exitCode: 71)
            }
            var ready = "encmon serve: listening on \(socket)"
            if let a = daemon.metricsAddress { ready += ", metrics on http://\(a.ipAddress ?? "?"):\(a.port ?? 0)/metrics" }
            StandardError.write(ready + ", feed: \(feed.description)\n")
            var signal: Int32 = 0
            sigwait(&set, &signal)
            daemon.stop()
            feed.stop()  // idempotent; makes sure the tracefs instance is gone before exit
            StandardError.write("encmon serve: stopped by signal \(signal)\n")
        }

        /// The kernel feed: one tracefs instance for every process; exit codes as the live path's.
        private func tracefsFeed() throws -> TracefsProcessFeed {
            let custom = try events.first.map { text in
                guard let e = WatchedEvent(hypercallLike: text) else {
                    throw CommandFailure(message: "--event must be SYSTEM:NAME, not '\(text)'", exitCode: 64)
                }
                return e
            }
            removeAbandonedServeInstances(tag: "encmon serve")
            do {
                let feed = try TracefsProcessFeed(customEvent: custom, instanceName: TracefsProcessFeed.instanceName(stateDirectory: stateDir))
                for note in feed.notes { StandardError.write("encmon serve: \(note)\n") }
                return feed
            } catch {
                throw CommandFailure(message: "\(error)", exitCode: LiveExit.code(for: error))
            }
        }
    }
}

/// Removes the tracefs instances of daemons that are gone for good (`AbandonedServeInstances`)
/// and says so on stderr; nothing when tracefs is not mounted or not writable (not root).
func removeAbandonedServeInstances(tag: String) {
    let dir = TracefsMount.standardPath
    guard access(dir + "/instances", W_OK | X_OK) == 0 else { return }
    let removed = AbandonedServeInstances.remove(tracingDirectory: dir)
    if !removed.isEmpty {
        StandardError.write("\(tag): note: removed tracefs instances of encmon daemons that no longer run: \(removed.joined(separator: ", "))\n")
    }
}

/// `HOST:PORT`, `[V6]:PORT` or `:PORT` (loopback).
enum MetricsAddress {
    static func parse(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":") else {
            throw ValidationError("--metrics must be HOST:PORT (for example 127.0.0.1:9477), not '\(text)'")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--metrics port must be 0 to 65535, in '\(text)'")
        }
        return (host, port)
    }
}
