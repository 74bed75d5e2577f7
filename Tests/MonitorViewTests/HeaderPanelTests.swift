import Testing
import MonitorCore
@testable import MonitorView

/// The header gives way by importance: the source survives narrow terminals, the phase shows once.
@Suite struct HeaderPanelTests {
    /// A demo in its migration phase, as `encmon demo --scenario migrate` reports it.
    static let marker = "migration: pre-copy (1.16 GiB/s link, encrypted path 200 MiB/s)"
    static let demo: SourceStatus = {
        var s = SourceStatus(kind: .demo, name: "migrate (seed 1, 4 GiB)", position: marker)
        s.location = .phase(marker)
        return s
    }()
    static let snapshot: MonitorSnapshot = {
        var m = Fixtures.bootedMonitor()
        m.apply(.marker(time: 9, text: marker))
        return m.snapshot()
    }()

    func header(_ source: SourceStatus, width: Int, height: Int = 2, state: ViewState = Fixtures.state { $0.speed = 4 }) -> [Substring] {
        PanelRender.text("header", Self.snapshot, source: source, state: state, width: width, height: height)
            .split(separator: "\n", omittingEmptySubsequences: false)
    }

    @Test func sourceAndPositionComeBeforeTheRest() {
        let at100 = header(Self.demo, width: 100)
        #expect(at100[0] == "t 9.0s  x4  demo: migrate (seed 1, 4 GiB)  migration: pre-copy (1.16 GiB/s link, encrypted path 2...")
        // Wide enough for everything but the span.
        let at140 = header(Self.demo, width: 140)
        #expect(at140[0].hasPrefix("encmon  t 9.0s  x4  demo: migrate (seed 1, 4 GiB)  " + Self.marker))
        // Narrow: time and speed go before the source; the source name goes last.
        for w in stride(from: 24, through: 100, by: 4) {
            let line = header(Self.demo, width: w)[0]
            #expect(line.count <= w)
            #expect(line.hasPrefix("demo: migrate") || line.contains("  demo: migrate"), "width \(w): \(line)")
        }
        #expect(header(Self.demo, width: 30)[0] == "demo: migrate (seed 1, 4 GiB)")
        #expect(header(Self.demo, width: 24)[0] == "demo: migrate (seed 1...")
    }

    /// A live source that ended says how ("VM exited", "tracing stopped") in place of "finished",
    /// never both; without a state it is "live" or "finished" as before.
    @Test func aSourceStateReplacesLiveAndFinished() {
        var live = SourceStatus(kind: .live, name: "VM web1 (pid 42)", position: "waiting for web1 to return")
        let noSpeed = Fixtures.state { $0.speed = nil }
        #expect(header(live, width: 140, state: noSpeed)[0].contains("  live  live: VM web1"))
        for finished in [false, true] {
            live.finished = finished
            live.state = "VM exited"
            let line = header(live, width: 140, state: noSpeed)[0]
            #expect(line.contains("  VM exited  live: VM web1 (pid 42)  waiting for web1 to return"), "\(line)")
            #expect(!line.contains("finished") && !line.contains("  live  "), "\(line)")
        }
        live.state = nil
        #expect(header(live, width: 140, state: noSpeed)[0].contains("  finished  live: VM web1"))
    }

    /// Loss without a count reads "unknown" or "≥ K", never a made-up number; a trace whose times
    /// are not seconds says its rates are per tick.
    @Test func lossAndTimeUnitAreHonest() {
        let replay = SourceStatus(kind: .replay, name: "trace.txt")
        for (events, expected) in [([MonitorEvent.lostEvents(time: 9, count: nil)], "lost events unknown"),
                                   ([.lostEvents(time: 9, count: 12), .lostEvents(time: 9, count: nil)], "lost events ≥ 12"),
                                   ([.lostEvents(time: 9, count: 12)], "lost events 12")] {
            var m = Fixtures.bootedMonitor()
            m.apply(events)
            let line = PanelRender.text("header", m.snapshot(), source: replay, state: Fixtures.state { _ in }, width: 200, height: 2)
            #expect(line.contains(expected), "\(line)")
        }
        var ticks = replay
        ticks.timeInSeconds = false
        let line = PanelRender.text("header", Self.snapshot, source: ticks, state: Fixtures.state { _ in }, width: 200, height: 2)
        #expect(line.contains("time unit unknown"))
        #expect(!PanelRender.text("header", Self.snapshot, source: replay, state: Fixtures.state { _ in }, width: 200, height: 2).contains("time unit"))
    }

    @Test func phaseShowsOnce() {
        let lines = header(Self.demo, width: 200)
        #expect(lines.filter { $0.contains("pre-copy") }.count == 1)
        #expect(!lines[1].contains("phase:"))
        // A replay's position is not its phase: both show.
        let replay = header(Fixtures.replay, width: 200)
        #expect(replay[0].contains("line 120 of 400") && replay[1].contains("phase: " + Self.marker))
    }

    /// "earlier state unknown" follows from the source, not from its wording: a daemon that saw the
    /// VM start knows everything; the same daemon that attached later, or a live source, does not.
    @Test func earlierStateUnknownUnlessTheSourceSawTheStart() {
        func secondLine(_ source: SourceStatus) -> String {
            PanelRender.text("header", Self.snapshot, source: source, state: Fixtures.state { $0.speed = nil }, width: 200, height: 2)
        }
        var daemon = SourceStatus(kind: .daemon, name: "web1 (pid 42)", position: "tracking since first seen")
        #expect(secondLine(daemon).contains("tracking since t 0.0s, earlier state unknown"))
        daemon.sawGuestStart = true
        #expect(!secondLine(daemon).contains("earlier state unknown"))
        // The wording alone changes nothing.
        let live = SourceStatus(kind: .live, name: "VM web1 (pid 42)", position: "tracking since VM start")
        #expect(secondLine(live).contains("earlier state unknown"))
    }

    @Test func kindIsNotRepeated() {
        let named = SourceStatus(kind: .demo, name: "demo: tour (seed 1, 4 GiB)", position: "boot")
        #expect(header(named, width: 120)[0].contains("  demo: tour (seed 1, 4 GiB)  boot"))
        #expect(!header(named, width: 120)[0].contains("demo: demo"))
        #expect(HeaderPanel.sourceName(SourceStatus(kind: .replay, name: "boot.trace")) == "replay: boot.trace")
        #expect(HeaderPanel.sourceName(SourceStatus(kind: .replay, name: "replay-2.trace")) == "replay: replay-2.trace")
        #expect(HeaderPanel.sourceName(SourceStatus(kind: .live, name: "")) == "live")
    }

    @Test func oneRowKeepsTheSource() {
        var st = Fixtures.state { $0.speed = 4 }
        st.paused = true
        let line = header(Self.demo, width: 80, height: 1, state: st)
        #expect(line.count == 1)
        #expect(line[0].contains("PAUSED") && line[0].contains("demo: migrate (seed 1, 4 GiB)"))
        #expect(!line[0].contains("events"))
        let wide = header(Fixtures.replay, width: 250, height: 1)[0]
        #expect(wide.contains("events ") && wide.contains("replay: boot.trace"))
    }

    @Test func cutKeepsEllipsisWithinWidth() {
        #expect(FittedLine<Int>.cut("abcdef", to: 4, ellipsis: "...") == "a...")
        #expect(FittedLine<Int>.cut("abcdef", to: 2, ellipsis: "...") == "ab")
        #expect(FittedLine<Int>.cut("abc", to: 4, ellipsis: "…") == "abc")
        #expect(FittedLine<Int>.cut("abcdef", to: 4, ellipsis: "…") == "abc…")
    }
}
