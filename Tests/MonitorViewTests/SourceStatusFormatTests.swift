import Testing
import MonitorCore
@testable import MonitorView

/// The header words the source's structured status itself: position from numbers, lost events
/// (the source's) and dropped events (encmon's own channel overflow).
@Suite struct SourceStatusFormatTests {
    func header(_ source: SourceStatus) -> String {
        PanelRender.text("header", Fixtures.bootedMonitor().snapshot(), source: source,
                         state: Fixtures.state { $0.speed = 1 }, width: 160, height: 2)
    }

    @Test func positionComesFromTheNumbers() {
        var s = SourceStatus(kind: .replay, name: "t.trace", lines: 1200, progress: 0.245)
        s.location = .line(1200)
        #expect(header(s).contains("line 1200 (24%)"))
        s.progress = nil
        #expect(header(s).contains("line 1200") && !header(s).contains("%)"))
        s.location = .phase("boot")
        #expect(header(s).contains("  boot"))
    }

    @Test func overflowIsShownAsDroppedEvents() {
        var s = SourceStatus(kind: .live, name: "VM 3")
        #expect(!header(s).contains("dropped events"))
        s.overflowedEvents = 40
        #expect(header(s).contains("dropped events 40"))
        // The source's own losses are reported apart from encmon's overflow.
        s.droppedEvents = 2
        #expect(header(s).contains("lost events 2") && header(s).contains("dropped events 40"))
        let json = MonitorSummary.json(Fixtures.bootedMonitor().snapshot(), source: s).serialized()
        #expect(json.contains("\"dropped\": 40"))
    }
}
