import Testing
@testable import MonitorCore

/// `--csv` rows: one field per header column, figures equal to the snapshot's, plain decimals.
@Suite struct CSVLogTests {
    private func conversion(_ t: Double, _ first: UInt64, _ n: UInt64, _ d: ConversionDirection = .toShared) -> MonitorEvent {
        .conversion(Conversion(time: t, pages: PageRange(first: first, count: n), direction: d, path: .simulator))
    }

    @Test func rowMatchesHeaderAndSnapshot() throws {
        var m = Monitor()
        for s in 0..<5 { for k in 0..<4 { m.apply(conversion(50 + Double(s) + Double(k) / 4, UInt64(s * 100 + k * 2), 3)) } }
        m.apply(.migrationProgress(MigrationProgress(time: 54.5, status: .active, pass: 2, ramTransferredBytes: 5 << 30,
                                                     ramRemainingBytes: 1 << 20, ramTotalBytes: 4 << 30,
                                                     dirtyPagesPerSecond: 1234.5678, bandwidthBytesPerSecond: 1e9)))
        let s = m.snapshot()
        let header = CSVLog.header.split(separator: ",").map(String.init)
        let row = CSVLog.row(s, source: SourceStatus(kind: .demo, name: "t")).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(row.count == header.count)
        #expect(Set(header).count == header.count, "column names are unique")
        func field(_ name: String) throws -> String { row[try #require(header.firstIndex(of: name))] }
        #expect(try field("time") == "4.75")
        #expect(try field("events") == "\(s.totals.events)")
        #expect(try field("regions") == "\(s.regions.count)")
        #expect(try field("shared_bytes") == "\(s.regions.sharedPages * 4096)")
        #expect(try field("calls_to_shared_1s") == "4")          // the last complete second
        #expect(try field("migration_status") == "active")
        #expect(try field("migration_sent_bytes") == "\(UInt64(5) << 30)")
        #expect(try field("migration_dirty_pages_per_s") == "1234.568")
        #expect(!row.joined().contains("e+") && !row.joined().contains("\""))
    }

    @Test func noMigrationLeavesItsFieldsEmpty() {
        let row = CSVLog.row(Monitor().snapshot(), source: SourceStatus(kind: .replay, name: "x"))
        #expect(row.hasSuffix(",none,,,,,"), "\(row)")
    }

    @Test(arguments: [(0.0, "0"), (1.5, "1.5"), (-2.25, "-2.25"), (1234.0004, "1234"), (0.0006, "0.001"), (3e20, ""), (Double.nan, "")])
    func decimals(value: Double, text: String) {
        #expect(CSVLog.decimal(value) == text)
    }
}
