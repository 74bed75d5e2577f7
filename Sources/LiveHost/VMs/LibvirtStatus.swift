/// What a libvirt status file (`/run/libvirt/qemu/<name>.xml`, a `<domstatus>` document) says about
/// a running domain: QEMU's pid, the domain id and name, vCPU threads, the QMP socket, memory.
/// Read with a small tag scanner: the few elements needed have fixed, simple shapes.
public struct LibvirtDomainStatus: Sendable, Hashable {
    public var name: String
    public var id: Int?
    public var pid: Int32?
    public var vcpuThreads: [HostVM.VCPUThread]
    public var monitorPath: String?
    public var memoryBytes: UInt64?

    /// nil when the text is not a status document (no `<domstatus` or no domain name).
    public init?(xml: String, fallbackName: String? = nil) {
        guard let status = XMLScan.tags("domstatus", in: xml[...]).first else { return nil }
        let domain = XMLScan.tags("domain", in: xml[...]).first
        let domainStart = xml.firstRange(of: "<domain ")?.lowerBound ?? xml.endIndex
        guard let name = XMLScan.text(of: "name", in: xml[domainStart...]) ?? fallbackName else { return nil }
        self.name = name
        id = domain?["id"].flatMap { Int($0) }
        pid = status["pid"].flatMap { Int32($0) }
        // `<vcpus><vcpu id='0' pid='4242'/>…</vcpus>` belongs to domstatus, before `<domain>`.
        var threads: [HostVM.VCPUThread] = []
        if let open = xml.firstRange(of: "<vcpus>"), let close = xml.firstRange(of: "</vcpus>"), open.upperBound <= close.lowerBound {
            for (n, tag) in XMLScan.tags("vcpu", in: xml[open.upperBound..<close.lowerBound]).enumerated() {
                guard let tid = tag["pid"].flatMap({ Int32($0) }) else { continue }
                threads.append(.init(index: tag["id"].flatMap { Int($0) } ?? n, threadID: tid))
            }
        }
        vcpuThreads = threads.sorted { $0.index < $1.index }
        monitorPath = XMLScan.tags("monitor", in: xml[...]).first?["path"]
        memoryBytes = XMLScan.tags("memory", in: xml[domainStart...]).first.flatMap { tag -> UInt64? in
            guard let kib = XMLScan.text(of: "memory", in: xml[domainStart...]).flatMap({ UInt64($0) }) else { return nil }
            let unit = QEMUOptions.size("1" + (tag["unit"] ?? "KiB"), defaultUnit: 1 << 10) ?? 1 << 10
            let (bytes, overflow) = kib.multipliedReportingOverflow(by: unit)
            return overflow ? nil : bytes
        }
    }
}

/// Finds tags and element text in XML text without a full parser.
enum XMLScan {
    /// Attributes of every `<name ...>` start tag in `text`, in order.
    static func tags(_ name: String, in text: Substring) -> [[String: String]] {
        var result: [[String: String]] = []
        var rest = text
        while let start = rest.firstRange(of: "<" + name) {
            let after = rest[start.upperBound...]
            guard let next = after.first, next == " " || next == ">" || next == "/" || next == "\n" || next == "\t" else {
                rest = after; continue
            }
            guard let end = after.firstIndex(of: ">") else { break }
            result.append(attributes(after[..<end]))
            rest = after[end...]
        }
        return result
    }

    /// `key='v' key2="w"` → dictionary, entities decoded.
    static func attributes(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var rest = text
        while let eq = rest.firstIndex(of: "=") {
            let key = rest[..<eq].split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).last.map(String.init) ?? ""
            let afterEq = rest[rest.index(after: eq)...]
            guard let quote = afterEq.first, quote == "'" || quote == "\"" else { break }
            let valueStart = afterEq.index(after: afterEq.startIndex)
            guard let valueEnd = afterEq[valueStart...].firstIndex(of: quote) else { break }
            result[key] = decodeEntities(afterEq[valueStart..<valueEnd])
            rest = afterEq[afterEq.index(after: valueEnd)...]
        }
        return result
    }

    /// The text of the first `<name ...>text</name>` element.
    static func text(of name: String, in text: Substring) -> String? {
        var rest = text
        while let start = rest.firstRange(of: "<" + name) {
            let after = rest[start.upperBound...]
            guard let next = after.first, next == " " || next == ">" else { rest = after; continue }
            guard let close = after.firstIndex(of: ">"),
                  close == after.startIndex || after[after.index(before: close)] != "/",
                  let end = after[close...].firstRange(of: "</" + name + ">") else { return nil }
            return decodeEntities(after[after.index(after: close)..<end.lowerBound])
        }
        return nil
    }

    static func decodeEntities(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        return String(text).replacing("&lt;", with: "<").replacing("&gt;", with: ">").replacing("&quot;", with: "\"")
            .replacing("&apos;", with: "'").replacing("&amp;", with: "&")
    }
}
