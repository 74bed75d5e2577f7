import MonitorCore
import MonitorView

/// The full-screen loop: advance the replay clock, pull events, draw, wait for a key.
///
/// Timing: a frame is drawn every `delay` wall seconds, at once after a key, and, for a replay
/// running faster than 1x, every `delay / speed` seconds (at least 0.1 s) so the map animates
/// instead of jumping. While the source is behind its clock (a huge trace at high speed) the loop
/// keeps pulling events in 50 ms slices between key reads and still draws only on the frame
/// schedule. Paused and finished sources cost one cheap redraw per `delay`; key reads wait in
/// 200 ms slices so a signal is seen promptly (no busy loop).
struct InteractiveSession {
    let source: any EventSource
    let terminal: CursesTerminal
    let options: SessionOptions
    private var state = ViewState()
    private var pump = EventPump()
    /// Replay and demo sources follow `clock`; live ones deliver what is ready.
    private let clocked: Bool
    private var speed: Double
    /// The session's own pause (the clock stops); the view state only shows it.
    private var paused = false
    /// Event time the replay has reached (clocked sources); nil until the first event time is known.
    private var clock: EventTime?
    /// Live sources: the latest event time, moved on by wall time between events so that rate
    /// windows decay while the guest is idle.
    private var liveClock: EventTime?
    /// What a paused live source keeps showing (its events are still applied, not lost).
    private var frozen: MonitorSnapshot?
    private var shown: MonitorSnapshot?
    private var redrawNow = true

    init(source: any EventSource, terminal: CursesTerminal, options: SessionOptions) {
        self.source = source
        self.terminal = terminal
        self.options = options
        clocked = source.status.kind.isClocked
        let requested = options.speed ?? 1
        speed = requested > 0 ? requested : 1
        state.charset = terminal.charset
        state.color = terminal.color
    }

    private var delay: Double { options.delay > 0 ? options.delay : 1 }

    private var frameInterval: Double {
        guard clocked, !paused, !pump.exhausted, speed > 1 else { return delay }
        return max(0.1, delay / speed)
    }

    mutating func run(_ monitor: inout Monitor) throws -> SessionOutcome {
        do {
            return try runLoop(&monitor)
        } catch let error as TraceFileError {
            if case .interrupted = error, let s = SessionSignalHandlers.pending { return .signal(s) }
            throw error
        }
    }

    private mutating func runLoop(_ monitor: inout Monitor) throws -> SessionOutcome {
        if clocked { clock = try source.peekNextTime() }
        var lastWall = WallClock.now()
        var nextFrame = lastWall
        var frames = 0
        while true {
            if let s = SessionSignalHandlers.pending { return .signal(s) }
            let wall = WallClock.now()
            let caughtUp = try advance(&monitor, wallSeconds: wall - lastWall)
            lastWall = wall

            let frameDue = wall >= nextFrame
            if frameDue || redrawNow {
                draw(monitor)
                redrawNow = false
                if frameDue {
                    frames += 1
                    nextFrame = wall + frameInterval
                    if let n = options.iterations, frames >= n { return .finished }
                }
            }

            // Wait for a key until the next frame; while behind, only look for one.
            let waitUntil = caughtUp ? nextFrame : WallClock.now()
            repeat {
                let ms = Int(((waitUntil - WallClock.now()) * 1000).rounded(.up))
                let key = terminal.readKey(timeoutMs: min(200, max(0, ms)))
                if let s = SessionSignalHandlers.pending { return .signal(s) }
                if let key {
                    if try handle(key, &monitor) == .quit { return .quit }
                    redrawNow = true
                    break
                }
            } while WallClock.now() < waitUntil
        }
    }

    /// Moves the clock on by `wallSeconds`, applies the events up to it and lets idle time pass
    /// in the model. Returns false when the source is behind the clock (more work next turn).
    private mutating func advance(_ monitor: inout Monitor, wallSeconds dt: Double) throws -> Bool {
        if clocked {
            if clock == nil { clock = try source.peekNextTime() }
            if !paused, !pump.exhausted, speed.isFinite, let c = clock { clock = c + dt * speed }
            // Speed `max` reads as fast as it can, except while paused (then only a step moves the clock).
            let until = speed.isFinite || paused ? clock : nil
            let caughtUp = try pump.pump(source, into: &monitor, until: until)
            if !caughtUp || until == nil {
                // The clock never runs ahead of the work done, so a pause stops the replay at
                // once instead of after the backlog; the effective speed is what the CPU manages.
                // While paused the clock is a step's target and stays until it is reached.
                if !paused, monitor.origin != nil { clock = monitor.now }
            } else if !pump.exhausted, let c = until {
                // Every event up to the clock is in: idle time passes in the model too.
                monitor.advance(to: c)
            }
            return caughtUp
        }
        if let c = liveClock { liveClock = c + dt }
        let caughtUp = try pump.pump(source, into: &monitor, until: nil)
        if monitor.origin != nil {
            liveClock = max(liveClock ?? monitor.now, monitor.now)
            if caughtUp, !pump.exhausted, let c = liveClock { monitor.advance(to: c) }
        }
        return caughtUp
    }

    private mutating func draw(_ monitor: Monitor) {
        let snapshot = (!clocked && paused) ? (frozen ?? monitor.snapshot()) : monitor.snapshot()
        // Keep the drawn snapshot only while paused: a snapshot shares the model's region map,
        // and holding it while events are applied would make the next update copy the map.
        shown = paused ? snapshot : nil
        let (w, h) = terminal.size
        // Session facts flow one way into what the view shows.
        state.paused = paused
        state.speed = clocked ? speed : nil
        var status = source.status
        if pump.exhausted { status.finished = true }
        terminal.draw(Screen.render(snapshot, source: status, state: state, width: w, height: h))
    }

    /// Source commands (quit, pause, step, speed, reset) are the loop's; the rest go to the view state.
    private mutating func handle(_ key: Key, _ monitor: inout Monitor) throws -> SessionOutcome? {
        if key == .resize { terminal.invalidate() }
        guard let command = Screen.command(for: key, state: state) else { return nil }
        switch command {
        case .quit:
            return .quit
        case .togglePause:
            paused.toggle()
            frozen = paused && !clocked ? (shown ?? monitor.snapshot()) : nil
        case .stepOnce:
            // Step: pause if needed, then let the clock reach the end of the next event's second.
            if !paused {
                paused = true
                if !clocked { frozen = shown ?? monitor.snapshot() }
            }
            if clocked, let next = try source.peekNextTime() {
                clock = max(clock ?? next, next.rounded(.down) + 0.999_999)
            } else if !clocked {
                frozen = monitor.snapshot()
            }
        case .faster:
            if clocked { speed = ReplaySpeed.faster(speed) }
        case .slower:
            if clocked { speed = ReplaySpeed.slower(speed) }
        case .resetRates:
            monitor.resetRates()
        default:
            let (w, h) = terminal.size
            state.apply(command, snapshot: shown ?? monitor.snapshot(), width: w, height: h)
        }
        return nil
    }
}
