import Testing
@testable import MonitorCore

@Suite struct MonitorSummaryTests {
    @Test func jsonHasTheDocumentedFields() {
        var m = Monitor()
        m.apply(.conversion(Conversion(time: 1, pages: PageRange(first: 0x1f018, count: 2), direction: .toShared, path: .hypercall)))
        let src = SourceStatus(kind: .replay, name: "t.txt", lines: 3, skippedLines: 1, malformedLines: 1)
        let text = MonitorSummary.json(m.snapshot(), source: src).serialized()
        for key in ["lines", "conversions", "toShared", "toPrivate", "rejected", "skipped", "malformed",
                    "sharedPages", "sharedBytes", "regions", "rates", "churn", "trackingCost"] {
            #expect(text.contains("\"\(key)\": "), "missing \(key)")
        }
        #expect(text.contains("\"regions\": [{\"gpa\": \"0x1f018000\", \"pages\": 2}]"))
        #expect(text.contains("\"sharedBytes\": 8192"))
    }

    @Test(arguments: [0, 1, 5, 4097])
    func streamedJSONEqualsTheBuiltValue(regions: Int) {
        var m = Monitor()
        for i in 0..<regions {
            m.apply(.conversion(Conversion(time: Double(i), pages: PageRange(first: UInt64(i) * 3, count: 2),
                                           direction: .toShared, path: .hypercall)))
        }
        let src = SourceStatus(kind: .replay, name: "t.txt")
        let snap = m.snapshot()
        var streamed = ""
        var writes = 0
        MonitorSummary.writePrettyJSON(snap, source: src, chunkRegions: 1000) { streamed += $0; writes += 1 }
        #expect(streamed == MonitorSummary.json(snap, source: src).serialized(pretty: true))
        #expect(writes == max(1, regions / 1000 + 1))
    }

    @Test func jsonEscapesStrings() {
        #expect(JSONValue.string("a\"b\\c\n\u{1}").serialized() == "\"a\\\"b\\\\c\\n\\u0001\"")
        #expect(JSONValue.double(2.5).serialized() == "2.5")
        #expect(JSONValue.double(3).serialized() == "3")
        #expect(JSONValue.double(.nan).serialized() == "null")
    }
}
