@testable import MonitorCore
import Testing
@testable import EncmonDaemon

@Suite struct DaemonRequestTests {
    @Test func parsesEveryOperation() throws {
        #expect(try DaemonRequest.parse(Array(#"{"v":1,"id":7,"op":"list"}"#.utf8)).get() == DaemonRequest(id: 7, operation: .list))
        #expect(try DaemonRequest.parse(Array(#"{"v":1,"id":8,"op":"snapshot","vm":1234}"#.utf8)).get()
                == DaemonRequest(id: 8, operation: .snapshot, vm: .pid(1234)))
        #expect(try DaemonRequest.parse(Array(#"{"op":"subscribe","vm":"guest-a","id":9,"v":1,"later":true}"#.utf8)).get()
                == DaemonRequest(id: 9, operation: .subscribe, vm: .name("guest-a")))
        #expect(try DaemonRequest.parse(Array(#"{"v":1,"id":1,"op":"snapshot","vm":"42"}"#.utf8)).get().vm == .pid(42))
    }

    @Test func requestLineRoundTrips() throws {
        for r in [DaemonRequest(id: 0, operation: .list), DaemonRequest(id: 1 << 40, operation: .subscribe, vm: .pid(99)),
                  DaemonRequest(id: 3, operation: .snapshot, vm: .name("a \"quoted\" name"))] {
            #expect(try DaemonRequest.parse(Array(r.line.utf8)).get() == r)
        }
    }

    @Test(arguments: [
        (#"not json"#, "malformed"),
        (#"[1,2]"#, "malformed"),
        (#"{"v":1,"op":"list"}"#, "malformed"),
        (#"{"v":1,"id":"x","op":"list"}"#, "malformed"),
        (#"{"v":1,"id":-1,"op":"list"}"#, "malformed"),
        (#"{"id":1,"op":"list"}"#, "malformed"),
        (#"{"v":2,"id":1,"op":"list"}"#, "unsupported-version"),
        (#"{"v":1,"id":1,"op":"delete"}"#, "unknown-op"),
        (#"{"v":1,"id":1,"op":"snapshot"}"#, "malformed"),
        (#"{"v":1,"id":1,"op":"snapshot","vm":-3}"#, "malformed"),
        (#"{"v":1,"id":1,"op":"snapshot","vm":99999999999}"#, "malformed"),
        (#"{"v":1,"id":1,"op":"snapshot","vm":""}"#, "malformed"),
        (#"{"v":1,"id":1,"op":"snapshot","vm":[1]}"#, "malformed"),
    ])
    func rejectsBadRequests(line: String, code: String) {
        guard case .failure(let e) = DaemonRequest.parse(Array(line.utf8)) else {
            Issue.record("accepted \(line)")
            return
        }
        #expect(e.code == code, "\(line): \(e)")
    }

    @Test func oversizedIsRejectedBeforeParsing() {
        let line = Array(#"{"v":1,"id":1,"op":"list","pad":""#.utf8) + [UInt8](repeating: 0x61, count: DaemonRequest.maxLineBytes) + Array(#""}"#.utf8)
        guard case .failure(let e) = DaemonRequest.parse(line) else { Issue.record("accepted"); return }
        #expect(e.code == "oversized")
    }

    /// Random bytes never trap the parser and always give a code of the documented set.
    @Test func randomBytesGiveDocumentedErrors() {
        var rng = SplitMix64(seed: 12)
        let codes: Set<String> = ["malformed", "oversized", "unsupported-version", "unknown-op"]
        let pieces = [#"{"#, #"}"#, #""v":1"#, #""id":"#, #""op":"list""#, ",", "1", #""vm":"#, "\"", "[", "]", "null", "\u{0}", "é"]
        for _ in 0..<2000 {
            var s = ""
            for _ in 0..<Int(rng.next() % 12) { s += pieces[Int(rng.next() % UInt64(pieces.count))] }
            switch DaemonRequest.parse(Array(s.utf8)) {
            case .success(let r): #expect(r.operation == .list || r.vm != nil)
            case .failure(let e): #expect(codes.contains(e.code), "\(s): \(e.code)")
            }
        }
    }
}
