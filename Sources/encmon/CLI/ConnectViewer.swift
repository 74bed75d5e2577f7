import Foundation
import ArgumentParser
import EncmonDaemon
import MonitorCore

/// `--connect SOCKET`: the default command (`Watch`) shows a VM from the daemon instead of
/// tracing it itself.
struct DaemonViewerOptions: ParsableArguments {
    @Option(name: .customLong("connect"), help: ArgumentHelp("Show a VM from the encmon daemon (encmon serve) through its socket; no root needed. With --vm ID (pid or name) when the daemon tracks several.", valueName: "SOCKET"))
    var socket: String?
}

/// `encmon --connect SOCKET [--vm ID]`: a VM as the daemon tracks it, on the screen, as batch
/// text, or (`--json`) as one summary of its state now.
func runConnectedViewer(socket: String, vm: String?, display: DisplayOptions, json: Bool) throws {
    let source: DaemonClientSource
    do {
        source = try DaemonClientSource(socketPath: socket, vm: daemonSelector(vm))
    } catch let e as DaemonClientError {
        throw CommandFailure(message: "\(e)", exitCode: e.exitCode)
    }
    try runConnectedViewer(source, display: display, json: json)
}

private func daemonSelector(_ vm: String?) -> ProcessSelector? {
    vm.map { Int32($0).map { $0 > 0 ? .pid($0) : .name(vm!) } ?? .name($0) }
}

/// `encmon --vm ID` without `--connect`: the daemon's view when its socket is there and it tracks
/// that VM (no root needed, and it knew the VM from its start); nil when encmon must trace directly.
/// `ENCMON_DAEMON_SOCKET` names another socket than `encmon serve`'s default.
func daemonSourceIfTracked(vm: String) -> DaemonClientSource? {
    let socket = ProcessInfo.processInfo.environment["ENCMON_DAEMON_SOCKET"] ?? "/run/encmon/encmon.sock"
    guard FileManager.default.fileExists(atPath: socket) else { return nil }
    do {
        return try DaemonClientSource(socketPath: socket, vm: daemonSelector(vm))
    } catch {
        StandardError.write("encmon: note: the encmon daemon at \(socket) cannot show '\(vm)' (\(error)); tracing directly\n")
        return nil
    }
}

func runConnectedViewer(_ source: DaemonClientSource, display: DisplayOptions, json: Bool) throws {
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
