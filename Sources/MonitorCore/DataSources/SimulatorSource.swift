/// `encmon demo`: the simulated guest as an event source. Time is the simulator's own (seconds
/// from 0); the app's clock decides how far to poll, so speed and pause work as for a replay.
public final class SimulatorSource: EventSource {
    private var simulator: GuestSimulator
    private var finished = false
    private let name: String

    public init(configuration: SimulatorConfiguration) throws(SimulatorConfigurationError) {
        simulator = try GuestSimulator(configuration: configuration)
        name = "\(configuration.scenario.rawValue) (seed \(configuration.seed), \(Self.size(configuration.memBytes)))"
    }

    public func poll(until: EventTime?, limit: Int, into events: inout [MonitorEvent]) throws -> Bool {
        guard !finished else { return false }
        let more = simulator.events(until: until ?? .infinity, limit: limit, into: &events)
        if !more { finished = true }
        return more
    }

    public func peekNextTime() throws -> EventTime? { simulator.peekNextTime() }

    public var clock: SourceClock { .simulator }

    public var status: SourceStatus {
        var s = SourceStatus(kind: .demo, name: name, position: simulator.phase, lines: simulator.eventsDelivered,
                             finished: finished)
        s.location = .phase(simulator.phase)
        return s
    }

    /// "4 GiB", "512 MiB", "1.5 GiB": whole units when exact.
    static func size(_ bytes: UInt64) -> String {
        if bytes % SimulatorConfiguration.gib == 0 { return "\(bytes / SimulatorConfiguration.gib) GiB" }
        if bytes % SimulatorConfiguration.mib == 0 && bytes < SimulatorConfiguration.gib { return "\(bytes / SimulatorConfiguration.mib) MiB" }
        return ByteFormat.human(bytes)
    }
}
