import SystemLibc
import Testing
@testable import LiveHost

/// The typed wrappers against the real kernel: errors carry the call and errno; EINTR is retried.
@Suite struct SystemCallTests {
    @Test func eintrIsRetriedOtherErrorsAreTyped() throws {
        var calls = 0
        let result = try retryingOnInterrupt("fake") { () -> Int32 in
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 7
        }
        #expect(result == 7 && calls == 3)
        #expect(throws: SystemCallError(call: "fake 2", errno: EBADF)) {
            try retryingOnInterrupt("fake 2") { () -> Int32 in errno = EBADF; return -1 }
        }
    }

    @Test func openAndReadNameTheFile() throws {
        #expect(throws: SystemCallError(call: "open /nonexistent/x", errno: ENOENT)) { try OwnedFileDescriptor.openReadOnly("/nonexistent/x") }
        let error = SystemCallError(call: "open /nonexistent/x", errno: ENOENT)
        #expect(error.description == "open /nonexistent/x: No such file or directory")
        #expect(!error.isPermissionDenied && SystemCallError(call: "x", errno: EACCES).isPermissionDenied)
    }

    @Test func preadReadsAtOffsetsAndStopsAtEndOfFile() throws {
        let path = "/tmp/encmon-pread-\(getpid())"
        let bytes = (0..<200).map { UInt8($0) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(path) }
        let file = try OwnedFileDescriptor.openReadOnly(path)
        #expect(try file.read(count: 10, at: 50, what: "t") == Array(bytes[50..<60]))
        #expect(try file.read(count: 100, at: 150, what: "t") == Array(bytes[150...]))
        #expect(try file.read(count: 10, at: 500, what: "t") == [])
        #expect(try file.readToEnd(what: "t") == bytes)
    }

    @Test func pidfdOfAMissingProcessIsESRCH() {
        #expect(throws: SystemCallError(call: "pidfd_open(99999999)", errno: ESRCH)) { try PidFD.open(pid: 99_999_999) }
        #expect(throws: SystemCallError.self) { try PidFD.open(pid: -5) }
    }

    /// pidfd_getfd on this very process: the copy reads the same pipe.
    @Test func pidfdGetfdCopiesADescriptor() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let me = try PidFD.open(pid: getpid())
        #expect(try me.hasExited() == false)
        let copy = try me.duplicate(descriptor: fds[0])
        #expect(copy.rawValue != fds[0])
        var byte: UInt8 = 42
        #expect(write(fds[1], &byte, 1) == 1)
        var got: UInt8 = 0
        #expect(read(copy.rawValue, &got, 1) == 1 && got == 42)
        #expect(throws: SystemCallError(call: "pidfd_getfd(pid \(getpid()), fd 987654)", errno: EBADF)) { try me.duplicate(descriptor: 987_654) }
    }

    /// A pidfd polls readable once its process has exited.
    @Test func pidfdSeesAChildExit() throws {
        let child = try spawn("/bin/sleep", ["0.2"], stdout: nil)
        let pidfd = try PidFD.open(pid: child)
        #expect(try pidfd.hasExited() == false)
        _ = waitForExit(child)
        #expect(try pidfd.hasExited() == true)
    }

    @Test func statsIoctlOnAnOrdinaryFileIsTyped() throws {
        let file = try OwnedFileDescriptor.openReadOnly("/proc/self/status")
        #expect(throws: SystemCallError(call: "ioctl KVM_GET_STATS_FD on status", errno: ENOTTY)) { try KVMIoctl.getStatsFD(file, what: "status") }
    }

    @Test func directoriesAndLinks() throws {
        #expect(try FileSystemCalls.listDirectory("/proc/self/fd").contains("0"))
        #expect(throws: SystemCallError.self) { try FileSystemCalls.listDirectory("/nonexistent") }
        #expect(try FileSystemCalls.readLink("/proc/self/exe").hasPrefix("/"))
        #expect(throws: SystemCallError(call: "readlink /nonexistent", errno: ENOENT)) { try FileSystemCalls.readLink("/nonexistent") }
    }
}
