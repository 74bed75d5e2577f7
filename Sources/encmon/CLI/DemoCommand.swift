import ArgumentParser
import MonitorCore

extension EncmonCommand {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a simulated confidential guest and its live migration (no VM needed)."
        )

        @OptionGroup(title: "Display") var display: DisplayOptions

        func run() throws {
            throw CommandFailure(message: "demo: not wired yet")
        }
    }
}
