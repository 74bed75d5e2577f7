import SystemLibc

/// Finds the VMs on this host: every process holding an `anon_inode:kvm-vm` descriptor, named
/// from its QEMU command line and libvirt's status files. The roots are parameters so tests can
/// build a /proc and a libvirt run directory of their own.
public struct HostVMDiscovery: Sendable {
    public var procRoot: String
    /// libvirt's status directory for the system QEMU driver.
    public var libvirtRunDirectory: String

    public init(procRoot: String = "/proc", libvirtRunDirectory: String = "/run/libvirt/qemu") {
        self.procRoot = procRoot
        self.libvirtRunDirectory = libvirtRunDirectory
    }

    /// The result of one pass over the process table.
    public struct Scan: Sendable {
        /// VMs by pid.
        public var vms: [HostVM]
        /// Processes that look like VMMs (name or command line mentions qemu or kvm) whose
        /// descriptors this user may not read.
        public var uninspectable: [Int32]
    }

    /// Every VM on the host, by pid.
    public func list() throws(HostVMError) -> [HostVM] { try scan().vms }

    public func scan() throws(HostVMError) -> Scan {
        let entries: [String]
        do { entries = try FileSystemCalls.listDirectory(procRoot) } catch { throw .systemCall(error) }
        let domains = libvirtDomains()
        var vms: [HostVM] = []
        var uninspectable: [Int32] = []
        for pid in entries.compactMap({ Int32($0) }).sorted() {
            switch inspect(pid: pid, domains: domains) {
            case .vm(let vm): vms.append(vm)
            case .denied: if looksLikeVMM(pid: pid) { uninspectable.append(pid) }
            case .notAVM, .gone: continue
            }
        }
        return Scan(vms: vms, uninspectable: uninspectable)
    }

    /// The VM `id` names: a number is a libvirt domain id when libvirt knows one, else a pid (a
    /// vCPU thread id stands for its process); a word is a libvirt or QEMU name.
    public func resolve(_ id: String) throws(HostVMError) -> HostVM {
        let query = id.trimmingSpaces
        guard !query.isEmpty else { throw .notFound(query: id, tried: "an empty id", known: []) }
        let domains = libvirtDomains()
        if let number = Int(query), number >= 0 {
            if let domain = domains.first(where: { $0.id == number }), let pid = domain.pid {
                return try vm(pid: pid, query: query, domains: domains,
                              tried: "libvirt domain \(number) (\(domain.name)) names pid \(pid), which is gone")
            }
            guard let pid = Int32(exactly: number) else {
                throw .notFound(query: query, tried: "no libvirt domain or process has that number", known: knownNames())
            }
            return try vm(pid: threadGroup(of: pid) ?? pid, query: query, domains: domains,
                          tried: domains.isEmpty ? "no process \(pid)" : "no libvirt domain with id \(number) and no process \(pid)")
        }
        let found = try scan()
        let matches = found.vms.filter { $0.libvirtName == query || $0.qemuName == query }
        if matches.count == 1 { return matches[0] }
        if matches.count > 1 { throw .ambiguous(query: query, candidates: matches.map { "\($0.name) (pid \($0.pid))" }) }
        if !found.uninspectable.isEmpty && geteuid() != 0 {
            throw .permissionDenied(query: query, detail: "no readable VM has that name, and the descriptors of VMM process(es) "
                                    + found.uninspectable.map(String.init).joined(separator: ", ") + " are not readable as this user")
        }
        throw .notFound(query: query, tried: "no libvirt domain or QEMU -name is '\(query)'",
                        known: found.vms.map(\.name))
    }

    private func vm(pid: Int32, query: String, domains: [LibvirtDomainStatus], tried: String) throws(HostVMError) -> HostVM {
        switch inspect(pid: pid, domains: domains) {
        case .vm(let vm): return vm
        case .gone: throw .notFound(query: query, tried: tried, known: knownNames())
        case .notAVM(let command): throw .notAVM(pid: pid, command: command)
        case .denied(let error): throw .permissionDenied(query: query, detail: "\(error)")
        }
    }

    private func knownNames() -> [String] { (try? list().map(\.name)) ?? [] }

    enum Inspection { case vm(HostVM), notAVM(command: String), denied(SystemCallError), gone }

    /// One process: a VM, not a VM, unreadable, or gone.
    func inspect(pid: Int32, domains: [LibvirtDomainStatus]) -> Inspection {
        let held: ProcessKVMDescriptors
        do { held = try ProcessKVMDescriptors.scan(pid: pid, procRoot: procRoot) } catch {
            if error.isPermissionDenied { return .denied(error) }
            return .gone
        }
        let command = readText("\(procRoot)/\(pid)/comm")?.trimmingSpaces ?? "?"
        guard held.holdsVM else {
            return FileSystemCalls.exists("\(procRoot)/\(pid)") ? .notAVM(command: command) : .gone
        }
        let arguments = readText("\(procRoot)/\(pid)/cmdline").map { $0.split(separator: "\0", omittingEmptySubsequences: false).map(String.init) } ?? []
        let qemu = QEMUCommandLine(arguments: arguments)
        let domain = domains.first { $0.pid == pid }
        var threads = vcpuThreads(pid: pid)
        if threads.isEmpty, let domain { threads = domain.vcpuThreads }
        return .vm(HostVM(pid: pid, command: command, qemuName: qemu.name, libvirtID: domain?.id,
                          libvirtName: domain?.name, memoryBytes: qemu.memoryBytes ?? domain?.memoryBytes,
                          vcpuThreads: threads, qmpSocket: qemu.qmpSocket ?? domain?.monitorPath))
    }

    /// Threads named `CPU <n>/KVM` (QEMU's vCPU threads, accel/kvm/kvm-accel-ops.c).
    func vcpuThreads(pid: Int32) -> [HostVM.VCPUThread] {
        let taskDir = "\(procRoot)/\(pid)/task"
        guard let tids = try? FileSystemCalls.listDirectory(taskDir) else { return [] }
        var threads: [HostVM.VCPUThread] = []
        for tid in tids.compactMap({ Int32($0) }) {
            guard let comm = readText("\(taskDir)/\(tid)/comm")?.trimmingSpaces,
                  comm.hasPrefix("CPU "), comm.hasSuffix("/KVM"),
                  let index = Int(comm.dropFirst(4).dropLast(4)) else { continue }
            threads.append(.init(index: index, threadID: tid))
        }
        return threads.sorted { ($0.index, $0.threadID) < ($1.index, $1.threadID) }
    }

    /// Every running domain libvirt's status directory describes (`<name>.xml`, pid from the XML
    /// or from `<name>.pid`). A missing directory means no libvirt: no domains.
    public func libvirtDomains() -> [LibvirtDomainStatus] {
        guard let files = try? FileSystemCalls.listDirectory(libvirtRunDirectory) else { return [] }
        var domains: [LibvirtDomainStatus] = []
        for file in files.sorted() where file.hasSuffix(".xml") {
            let base = String(file.dropLast(4))
            guard let xml = readText("\(libvirtRunDirectory)/\(file)"),
                  var domain = LibvirtDomainStatus(xml: xml, fallbackName: base) else { continue }
            if domain.pid == nil {
                domain.pid = readText("\(libvirtRunDirectory)/\(base).pid").flatMap { Int32($0.trimmingSpaces) }
            }
            domains.append(domain)
        }
        return domains
    }

    /// The process a thread id belongs to (`Tgid:` in /proc/TID/status), when it differs.
    private func threadGroup(of tid: Int32) -> Int32? {
        guard let status = readText("\(procRoot)/\(tid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).trimmingSpaces)
        }
        return nil
    }

    private func looksLikeVMM(pid: Int32) -> Bool {
        let comm = readText("\(procRoot)/\(pid)/comm") ?? ""
        let cmdline = readText("\(procRoot)/\(pid)/cmdline", limit: 65_536) ?? ""
        return comm.contains("qemu") || comm.contains("kvm") || cmdline.contains("qemu") || cmdline.contains("kvm")
    }

    private func readText(_ path: String, limit: Int = 1 << 20) -> String? {
        guard let bytes = try? FileSystemCalls.readFile(path, limit: limit) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and newlines.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" || $0 == "\0" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
