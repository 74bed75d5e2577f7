import ArgumentParser
import LiveHost
import MonitorCore

extension EncmonCommand {
    /// `encmon list`: the VMs on this host, like `virsh list` or kvm_stat's guest picker.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the VMs running on this host.",
            discussion: """
                A VM is a process holding a KVM VM descriptor (anon_inode:kvm-vm in /proc/PID/fd). \
                Names come from QEMU's -name and from libvirt's status files (/run/libvirt/qemu); \
                memory from -m or the memory backends; vCPU threads are those named 'CPU N/KVM' \
                (or libvirt's). Reading other users' processes needs root. Any PID, NAME or \
                LIBVIRT ID shown here can be given to --vm.
                """
        )

        @Flag(help: "Print one JSON object (see the README for its fields).")
        var json = false

        @Flag(help: "Also read each VM's KVM statistics (event counts: exits, halt_exits, hypercalls, ...).")
        var stats = false

        @Option(name: .customLong("proc-root"), help: .hidden)
        var procRoot = "/proc"

        @Option(name: .customLong("libvirt-run-dir"), help: .hidden)
        var libvirtRunDirectory = "/run/libvirt/qemu"

        func run() throws {
            let discovery = HostVMDiscovery(procRoot: procRoot, libvirtRunDirectory: libvirtRunDirectory)
            let scan: HostVMDiscovery.Scan
            do { scan = try discovery.scan() } catch { throw CommandFailure(message: "\(error)", exitCode: error.exitCode) }
            let counters = stats ? scan.vms.map { Self.readCounters(pid: $0.pid, procRoot: procRoot) } : []
            if json {
                StandardOutput.write(Self.json(scan, counters: counters).serialized(pretty: true) + "\n")
            } else if scan.vms.isEmpty && !scan.uninspectable.isEmpty {
                StandardOutput.write("No VMs readable as this user.\n")
            } else {
                StandardOutput.write(Self.table(scan.vms, counters: counters))
            }
            if !scan.uninspectable.isEmpty {
                StandardError.write("encmon: could not inspect process(es) \(scan.uninspectable.map(String.init).joined(separator: ", ")) "
                                    + "(not readable as this user); run as root, or use `encmon serve`'s socket\n")
            }
        }

        /// Event counts of one VM and the parts that could not be read, or why there are none.
        struct Counters {
            var counts: [(String, UInt64)]
            var unavailable: [String]
        }

        static func readCounters(pid: Int32, procRoot: String) -> Result<Counters, KVMStatsError> {
            do {
                let poller = try KVMStatsPoller(pid: pid, procRoot: procRoot)
                let counts = try poller.poll().compactMap { event -> (String, UInt64)? in
                    if case .counter(_, let name, let value) = event { (name, value) } else { nil }
                }
                return .success(Counters(counts: counts, unavailable: poller.unavailable))
            } catch {
                return .failure(error)
            }
        }

        static func table(_ vms: [HostVM], counters: [Result<Counters, KVMStatsError>]) -> String {
            guard !vms.isEmpty else { return "No VMs found on this host.\n" }
            let rows = [["PID", "NAME", "LIBVIRT ID", "MEMORY", "VCPUS"]] + vms.map { vm in
                [String(vm.pid), vm.name, vm.libvirtID.map(String.init) ?? "-",
                 vm.memoryBytes.map { ByteFormat.human($0) } ?? "-", String(vm.vcpuThreads.count)]
            }
            let widths = (0..<5).map { c in rows.map { $0[c].count }.max() ?? 0 }
            var out = ""
            for row in rows {
                let cells = row.enumerated().map { c, text in
                    let pad = String(repeating: " ", count: widths[c] - text.count)
                    return c == 0 ? pad + text : text + pad   // pid right-aligned like ps
                }
                out += cells.joined(separator: "  ").trimmingTrailingSpaces + "\n"
            }
            for (vm, result) in zip(vms, counters) {
                out += "\n\(vm.label) KVM statistics:\n"
                switch result {
                case .success(let counters):
                    for (name, value) in counters.counts where value > 0 { out += "  \(name.padded(to: 40)) \(value)\n" }
                    for part in counters.unavailable { out += "  not available: \(part)\n" }
                case .failure(let error):
                    out += "  not available: \(error)\n"
                }
            }
            return out
        }

        static func json(_ scan: HostVMDiscovery.Scan, counters: [Result<Counters, KVMStatsError>]) -> JSONValue {
            let vms: [JSONValue] = scan.vms.enumerated().map { i, vm in
                var fields: [(String, JSONValue)] = [
                    ("pid", .int(Int64(vm.pid))),
                    ("name", .string(vm.name)),
                    ("command", .string(vm.command)),
                    ("qemuName", vm.qemuName.map(JSONValue.string) ?? .null),
                    ("libvirtId", vm.libvirtID.map { .int(Int64($0)) } ?? .null),
                    ("libvirtName", vm.libvirtName.map(JSONValue.string) ?? .null),
                    ("memoryBytes", vm.memoryBytes.map(JSONValue.uint) ?? .null),
                    ("vcpus", .int(Int64(vm.vcpuThreads.count))),
                    ("vcpuThreads", .array(vm.vcpuThreads.map { .object([("index", .int(Int64($0.index))), ("tid", .int(Int64($0.threadID)))]) })),
                    ("qmpSocket", vm.qmpSocket.map(JSONValue.string) ?? .null),
                ]
                if i < counters.count {
                    switch counters[i] {
                    case .success(let counters):
                        fields.append(("kvmStats", .object(counters.counts.map { ($0.0, .uint($0.1)) })))
                        if !counters.unavailable.isEmpty {
                            fields.append(("kvmStatsUnavailable", .array(counters.unavailable.map(JSONValue.string))))
                        }
                    case .failure(let error):
                        fields.append(("kvmStats", .null))
                        fields.append(("kvmStatsError", .string("\(error)")))
                    }
                }
                return .object(fields)
            }
            return .object([
                ("version", .int(1)),
                ("vms", .array(vms)),
                ("uninspectable", .array(scan.uninspectable.map { .int(Int64($0)) })),
            ])
        }
    }
}

private extension String {
    var trimmingTrailingSpaces: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
    func padded(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
