@testable import MonitorCore

/// A small guest that runs fast in debug builds.
func smallConfiguration(_ scenario: SimulatorScenario, seed: UInt64 = 1) -> SimulatorConfiguration {
    var c = SimulatorConfiguration(scenario: scenario, seed: seed)
    c.memBytes = 256 << 20
    c.bounceBufferBytes = 8 << 20
    c.steadySeconds = 3
    return c
}

/// Every event of the scenario, in one call.
func allEvents(_ c: SimulatorConfiguration) throws -> (events: [MonitorEvent], simulator: GuestSimulator) {
    var sim = try GuestSimulator(configuration: c)
    var out: [MonitorEvent] = []
    while sim.events(until: .infinity, limit: .max, into: &out) {}
    return (out, sim)
}

func conversions(_ events: [MonitorEvent]) -> [Conversion] {
    events.compactMap { if case .conversion(let c) = $0 { c } else { nil } }
}

func passRecords(_ events: [MonitorEvent]) -> [MigrationPassRecord] {
    events.compactMap { if case .migrationPass(let r) = $0 { r } else { nil } }
}

func progressReports(_ events: [MonitorEvent]) -> [MigrationProgress] {
    events.compactMap { if case .migrationProgress(let p) = $0 { p } else { nil } }
}

func markers(_ events: [MonitorEvent]) -> [String] {
    events.compactMap { if case .marker(_, let s) = $0 { s } else { nil } }
}
