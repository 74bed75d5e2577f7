import ArgumentParser
import MonitorCore

/// The version printed by `--version` and recorded in `encmon_build_info`.
let encmonVersion = "0.1.0"

@main
struct EncmonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encmon",
        abstract: "Monitor the memory encryption state of confidential VMs (SEV, SEV-ES, SEV-SNP, TDX).",
        discussion: """
            encmon shows which guest-physical pages a confidential guest has made shared, how fast it \
            converts pages, how much it churns, what tracking the shared set costs, and how live \
            migration re-sends pages whose encryption state changed.

            Examples:
              encmon demo                a simulated guest and its migration, no VM needed
              encmon replay FILE         ftrace, trace-cmd, perf, QEMU, trace.dat file
              encmon replay FILE --csv   a CSV log line per second of trace
              encmon list                the VMs on this host
              encmon --vm 3              live: libvirt id or name, QEMU -name or pid (root)
              encmon --qmp /run/vm.qmp   migration progress and SEV state from QEMU's QMP
              encmon --connect SOCKET    a VM from encmon serve, no root needed
            """,
        version: encmonVersion,
        subcommands: [Watch.self, Replay.self, Demo.self, List.self, Serve.self, DecodeTraceDat.self],
        // `encmon --vm 3` / `encmon --qmp PATH` / `encmon --connect SOCKET`: the default command's
        // options need no subcommand name.
        defaultSubcommand: Watch.self
    )
}

/// A fatal error for the user: printed as `encmon: message` with a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32 = 1
    var description: String { message }
}

/// How results are shown; shared by every command.
struct DisplayOptions: ParsableArguments {
    // `.unconditional` on numeric options: `-d -1` is reported as out of range, not as a missing value.
    @Option(name: [.short, .customLong("delay")], parsing: .unconditional, help: ArgumentHelp("Seconds between screen refreshes (like top).", valueName: "SECONDS"))
    var delay: Double = 1

    @Option(name: [.customShort("n"), .customLong("iterations")], parsing: .unconditional, help: ArgumentHelp("Stop after N refreshes.", valueName: "N"))
    var iterations: Int?

    @Flag(name: [.short, .customLong("batch")], help: "Print text snapshots instead of the screen (like top -b). Chosen automatically when stdout is not a terminal or TERM is unset or dumb.")
    var batch = false

    @Flag(name: .customLong("csv"), help: "Log mode: a CSV header line, then one line per refresh (see the README for the columns).")
    var csv = false

    @Flag(name: .customLong("ascii"), help: "Draw with ASCII characters only.")
    var ascii = false

    @Flag(name: .customLong("no-color"), help: "No colours (also when NO_COLOR is set).")
    var noColor = false

    @Flag(name: .customLong("no-mouse"), help: "Do not capture the mouse (keeps the terminal's own selection).")
    var noMouse = false

    func validate() throws {
        guard delay.isFinite, delay >= 0.05, delay <= 3600 else {
            throw ValidationError("--delay must be between 0.05 and 3600 seconds, not \(delay)")
        }
        if let n = iterations, n < 1 { throw ValidationError("--iterations must be at least 1, not \(n)") }
    }
}

/// Tuning of the model.
struct ModelOptions: ParsableArguments {
    @Option(name: .customLong("region-cap"), parsing: .unconditional, help: ArgumentHelp("Most shared regions tracked exactly; past it neighbours merge into approximate spans.", valueName: "N"))
    var regionCap: Int = SharedRegionMap.defaultRegionCap

    @Option(name: .customLong("churn-window"), parsing: .unconditional, help: ArgumentHelp("A buffer made shared and private again within this many seconds counts as a flip.", valueName: "SECONDS"))
    var churnWindow: Double = 10

    func validate() throws {
        guard regionCap >= 16 else { throw ValidationError("--region-cap must be at least 16, not \(regionCap)") }
        guard churnWindow.isFinite, churnWindow > 0, churnWindow <= Self.maxChurnWindow else {
            throw ValidationError("--churn-window must be more than 0 and at most \(Int(Self.maxChurnWindow)) seconds, not \(churnWindow)")
        }
    }

    /// The rate history holds 600 s; a longer window could never be observed whole.
    static let maxChurnWindow = 3600.0

    var configuration: MonitorConfiguration {
        var c = MonitorConfiguration()
        c.regionCap = regionCap
        c.churnWindow = churnWindow
        return c
    }
}

extension EncmonCommand {
    /// Parses, runs, and turns `CommandFailure` into `encmon: message` and its exit code.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CommandFailure {
            StandardError.write("encmon: \(failure.message)\n")
            exitProcess(failure.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}
