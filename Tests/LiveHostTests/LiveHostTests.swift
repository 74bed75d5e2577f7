import Foundation
import Testing
@testable import LiveHost

@Suite struct LiveHostLinkTests {
    /// The system libraries link and answer: where libtracefs says tracefs is, tracefs is.
    @Test func tracingDirectoryIsRealWhenReported() throws {
        guard let dir = LiveHost.tracingDirectory else { return }
        #expect(FileManager.default.fileExists(atPath: dir + "/instances"))
    }
}
