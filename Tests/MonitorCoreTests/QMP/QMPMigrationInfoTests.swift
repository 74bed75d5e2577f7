import Foundation
import Testing
@testable import MonitorCore

private func json(_ text: String) throws -> QMPJSON { try JSONDecoder().decode(QMPJSON.self, from: Data(text.utf8)) }

@Suite struct QMPMigrationInfoTests {
    /// Field names as QEMU 7.2 sends them (qapi/migration.json MigrationInfo / MigrationStats).
    @Test func anActiveMigrationBecomesProgress() throws {
        let reply = try json("""
            {"expected-downtime": 300, "status": "active", "setup-time": 1, "total-time": 2043,
             "ram": {"total": 134750208, "postcopy-requests": 0, "dirty-sync-count": 2, "multifd-bytes": 0,
                     "pages-per-second": 4096, "downtime-bytes": 0, "page-size": 4096, "remaining": 107229184,
                     "postcopy-bytes": 0, "mbps": 134.28432, "transferred": 26858281, "dirty-sync-missed-zero-copy": 0,
                     "precopy-bytes": 26858281, "duplicate": 38, "dirty-pages-rate": 17, "skipped": 0,
                     "normal-bytes": 26812416, "normal": 6546}}
            """)
        let p = try #require(try QMPMigrationInfo.progress(from: reply, time: 42))
        #expect(p.time == 42)
        #expect(p.status == .active)
        #expect(p.pass == 2)
        #expect(p.ramTransferredBytes == 26_858_281 && p.ramRemainingBytes == 107_229_184 && p.ramTotalBytes == 134_750_208)
        #expect(p.dirtyPagesPerSecond == 17)
        #expect(p.bandwidthBytesPerSecond == 134.28432 * 1e6 / 8)
        #expect(p.downtimeSeconds == 0.3)
        #expect(p.setupSeconds == 0.001)
        #expect(p.note == nil)
    }

    @Test func aCompletedMigrationReportsItsRealDowntime() throws {
        let reply = try json(#"{"status": "completed", "downtime": 12, "expected-downtime": 300, "setup-time": 3, "ram": {"dirty-sync-count": 4, "transferred": 1, "remaining": 0, "total": 2, "mbps": 0}}"#)
        let p = try #require(try QMPMigrationInfo.progress(from: reply, time: 0))
        #expect(p.downtimeSeconds == 0.012)
        #expect(p.pass == 4)
    }

    @Test func aFailedMigrationCarriesTheReason() throws {
        let reply = try json(#"{"status": "failed", "error-desc": "Unable to write to socket: Broken pipe"}"#)
        let p = try #require(try QMPMigrationInfo.progress(from: reply, time: 0))
        #expect(p.status == .failed)
        #expect(p.note == "Unable to write to socket: Broken pipe")
        #expect(p.pass == 0 && p.ramTotalBytes == 0)
    }

    @Test func noMigrationYetIsNoProgress() throws {
        #expect(try QMPMigrationInfo.progress(from: json("{}"), time: 0) == nil)
    }

    @Test func anUnknownStatusOrASimulatorStatusIsRefused() throws {
        for s in ["warp-speed", "pre-copy", "stop-and-copy"] {
            #expect(throws: QMPError.self) { try QMPMigrationInfo.progress(from: json(#"{"status": "\#(s)"}"#), time: 0) }
        }
    }

    @Test func hostileNumbersDoNotTrap() throws {
        let reply = try json(#"{"status": "active", "setup-time": -5, "ram": {"dirty-sync-count": 18446744073709551615, "transferred": -1, "mbps": 1e308, "dirty-pages-rate": "x"}}"#)
        let p = try #require(try QMPMigrationInfo.progress(from: reply, time: 0))
        #expect(p.pass == Int.max)
        #expect(p.ramTransferredBytes == 0)
        #expect(p.dirtyPagesPerSecond == 0)
    }

    @Test func theEventsCapabilityIsRead() throws {
        #expect(QMPMigrationInfo.eventsEnabled(capabilities: try json(#"[{"state": false, "capability": "xbzrle"}, {"state": true, "capability": "events"}]"#)))
        #expect(!QMPMigrationInfo.eventsEnabled(capabilities: try json(#"[{"state": false, "capability": "events"}]"#)))
    }

    @Test func sevStateFromQuerySEV() throws {
        #expect(QMPSEVState(reply: try json(#"{"enabled": false, "api-minor": 0, "handle": 0, "state": "uninit", "api-major": 0, "build-id": 0, "policy": 0}"#)) == .notSEV)
        let snp = QMPSEVState(reply: try json(#"{"enabled": true, "sev-type": "sev-snp", "api-major": 1, "api-minor": 55, "build-id": 3, "state": "running", "snp-policy": 196608}"#))
        #expect(snp == .sev(type: "sev-snp", apiMajor: 1, apiMinor: 55, state: "running"))
        #expect(snp.description == "sev-snp guest, API 1.55, running")
    }
}
