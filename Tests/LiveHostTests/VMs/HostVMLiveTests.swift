import SystemLibc
import Testing
@testable import LiveHost

/// Discovery on the real /proc, with a real KVM VM (scripts/helpers/kvm-out-loop.c).
@Suite(.serialized) struct HostVMLiveTests {
    @Test(.enabled(if: kvmAvailable, kvmUnavailableReason))
    func findsTheTestVMByPidNameAndThread() throws {
        let name = "encmon-test-\(getpid())"
        let guest = try KVMTestGuest(arguments: ["-name", "guest=\(name),debug-threads=on", "-m", "64K"])
        defer { guest.stop() }
        let discovery = HostVMDiscovery()
        let vm = try #require(try discovery.list().first { $0.pid == guest.pid })
        #expect(vm.qemuName == name)
        #expect(vm.memoryBytes == 64 << 10)
        #expect(vm.vcpuThreads == [.init(index: 0, threadID: guest.vcpuThread)])
        #expect(vm.command == "kvm-out-loop")
        #expect(try discovery.resolve(name) == vm)
        #expect(try discovery.resolve(String(guest.pid)) == vm)
        #expect(try discovery.resolve(String(guest.vcpuThread)) == vm)
    }

    @Test func thisTestProcessIsNotAVM() throws {
        let pid = getpid()
        #expect(throws: HostVMError.self) { try HostVMDiscovery().resolve(String(pid)) }
        do { _ = try HostVMDiscovery().resolve(String(pid)) } catch {
            guard case .notAVM(let p, _) = error else { Issue.record("expected notAVM, got \(error)"); return }
            #expect(p == pid)
        }
    }
}
