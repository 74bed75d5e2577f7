import ArgumentParser
import EncmonDaemon
import MonitorCore

extension EncmonCommand {
    /// `encmon --connect SOCKET [--vm ID] [--json] [display options]`. A hidden subcommand that
    /// `routed` selects when `--connect` is given without a subcommand, so its options do not sit
    /// on the root command (where they would take the subcommands' own --json and -b).
    struct Connect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a VM from the encmon daemon (encmon serve), no root needed.",
            shouldDisplay: false
        )

        @Option(name: .customLong("connect"), help: ArgumentHelp("The daemon's socket (default of encmon serve: /run/encmon/encmon.sock).", valueName: "SOCKET"))
        var socket: String

        /// `--vm ID`, renamed by `routed` (the root command's own --vm would take it otherwise).
        @Option(name: .customLong("daemon-vm"), help: ArgumentHelp("The VM (given as --vm): pid or name; optional when the daemon tracks one.", valueName: "ID"))
        var vm: String?

        @Flag(help: "Print one JSON summary of the VM's state now and exit.")
        var json = false

        @OptionGroup(title: "Display") var display: DisplayOptions

        func run() throws {
            try runConnectedViewer(socket: socket, vm: vm, display: display, json: json)
        }

        /// Puts `connect` in front of arguments that use `--connect` without naming a subcommand.
        static func routed(_ arguments: [String]) -> [String] {
            let names = EncmonCommand.configuration.subcommands.map { $0._commandName }
            let usesConnect = arguments.contains { $0 == "--connect" || $0.hasPrefix("--connect=") }
            guard usesConnect, !arguments.contains(where: { names.contains($0) }) else { return arguments }
            return ["connect"] + arguments.map { $0 == "--vm" ? "--daemon-vm" : ($0.hasPrefix("--vm=") ? "--daemon-vm=" + $0.dropFirst(5) : $0) }
        }
    }
}

/// `encmon --connect SOCKET [--vm ID]`: a VM as the daemon tracks it, on the screen, as batch
/// text, or (`--json`) as one summary of its state now.
func runConnectedViewer(socket: String, vm: String?, display: DisplayOptions, json: Bool) throws {
    let selector: ProcessSelector? = vm.map { Int32($0).map { $0 > 0 ? .pid($0) : .name(vm!) } ?? .name($0) }
    let source: DaemonClientSource
    do {
        source = try DaemonClientSource(socketPath: socket, vm: selector)
    } catch let e as DaemonClientError {
        throw CommandFailure(message: "\(e)", exitCode: e.exitCode)
    }
    // The daemon's model carries its own configuration (region cap, churn window).
    var monitor = source.initialModel
    if json {
        do { try source.readHistory() } catch let e as DaemonClientError {
            throw CommandFailure(message: "\(e)", exitCode: e.exitCode)
        }
        var events: [MonitorEvent] = []
        while try source.poll(until: nil, limit: 1 << 16, into: &events), !events.isEmpty {
            monitor.apply(events)
            events.removeAll(keepingCapacity: true)
        }
        monitor.apply(events)
        printSummary(monitor.snapshot(), source: source.status, json: true)
        return
    }
    let outcome = try runMonitorSession(source: source, monitor: &monitor, options: display.sessionOptions)
    try outcome.exitIfSignalled()
}

extension DaemonClientError {
    /// sysexits: no daemon 69 (unavailable), refused for permissions 77, unknown VM 66, protocol 76.
    var exitCode: Int32 {
        switch self {
        case .cannotConnect(_, let e): e == EACCES_CODE ? 77 : 69
        case .refused(_, let code, _): code == "permission-denied" ? 77 : (code == "not-found" || code == "choose-vm" ? 66 : 76)
        case .protocolViolation: 76
        case .closed: 69
        }
    }
}

/// EACCES (asm-generic/errno-base.h), without importing Glibc here.
private let EACCES_CODE: Int32 = 13
