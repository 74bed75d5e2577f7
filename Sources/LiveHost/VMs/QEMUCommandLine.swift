/// What encmon reads from a QEMU command line (`/proc/PID/cmdline`): the guest name, the RAM size
/// and the QMP socket. Other VMMs' command lines give nils.
public struct QEMUCommandLine: Sendable, Hashable {
    public var name: String?
    public var memoryBytes: UInt64?
    public var qmpSocket: String?

    public init(arguments: [String]) {
        var name: String?
        var memory: UInt64?
        var backendMemory: UInt64 = 0
        var backendsSeen = false
        var qmp: String?
        var socketChardevs: [String: String] = [:]   // id -> path
        var controlMonitors: [String] = []            // chardev ids
        var i = 0
        while i < arguments.count {
            let option = arguments[i].hasPrefix("--") ? String(arguments[i].dropFirst()) : arguments[i]
            let value: String? = i + 1 < arguments.count ? arguments[i + 1] : nil
            i += 1
            guard let value, option.hasPrefix("-") else { continue }
            switch option {
            case "-name":
                name = QEMUOptions.parse(value, impliedKey: "guest")["guest"]
            case "-m":
                if let size = QEMUOptions.parse(value, impliedKey: "size")["size"] {
                    memory = QEMUOptions.size(size, defaultUnit: 1 << 20)
                }
            case "-object":
                if let size = QEMUOptions.memoryBackendSize(value) { backendMemory &+= size; backendsSeen = true }
            case "-qmp":
                qmp = QEMUOptions.unixSocketPath(value) ?? qmp
            case "-chardev":
                let opts = QEMUOptions.parse(value, impliedKey: "backend")
                if opts["backend"] == "socket", let id = opts["id"], let path = opts["path"] { socketChardevs[id] = path }
            case "-mon":
                let opts = QEMUOptions.parse(value, impliedKey: "chardev")
                if opts["mode"] == "control", let chardev = opts["chardev"] { controlMonitors.append(chardev) }
            default:
                continue
            }
            i += 1
        }
        self.name = name
        self.memoryBytes = memory ?? (backendsSeen ? backendMemory : nil)
        self.qmpSocket = qmp ?? controlMonitors.lazy.compactMap { socketChardevs[$0] }.first
    }
}

/// QEMU's `key=value,key=value` option strings (QemuOpts), sizes and chardev addresses.
enum QEMUOptions {
    /// Splits on `,` (`,,` is a literal comma); a first element without `=` belongs to `impliedKey`.
    static func parse(_ text: String, impliedKey: String) -> [String: String] {
        var parts: [String] = []
        var current = ""
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if c == "," {
                if chars.first == "," { current.append(","); chars.removeFirst(); continue }
                parts.append(current); current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        var result: [String: String] = [:]
        for (index, part) in parts.enumerated() {
            if let eq = part.firstIndex(of: "=") {
                result[String(part[..<eq])] = String(part[part.index(after: eq)...])
            } else if index == 0, !part.isEmpty {
                result[impliedKey] = part
            }
        }
        return result
    }

    /// `4G`, `4096` (in `defaultUnit`), `512M`, `4194304k`, `1.5G`; nil when malformed or past 2^64.
    static func size(_ text: String, defaultUnit: UInt64) -> UInt64? {
        let digits = text.prefix { $0.isNumber || $0 == "." }
        let suffix = text.dropFirst(digits.count).lowercased()
        let unit: UInt64
        switch suffix {
        case "": unit = defaultUnit
        case "b": unit = 1
        case "k", "kb", "kib": unit = 1 << 10
        case "m", "mb", "mib": unit = 1 << 20
        case "g", "gb", "gib": unit = 1 << 30
        case "t", "tb", "tib": unit = 1 << 40
        case "p", "pb", "pib": unit = 1 << 50
        case "e", "eb", "eib": unit = 1 << 60
        default: return nil
        }
        if let whole = UInt64(digits) {
            let (bytes, overflow) = whole.multipliedReportingOverflow(by: unit)
            return overflow ? nil : bytes
        }
        guard let fraction = Double(digits), fraction.isFinite, fraction >= 0 else { return nil }
        let bytes = fraction * Double(unit)
        return bytes < 0x1p64 ? UInt64(bytes) : nil
    }

    /// The size of a `-object memory-backend-*` (key=value or JSON form), in bytes.
    static func memoryBackendSize(_ value: String) -> UInt64? {
        if value.hasPrefix("{") {
            guard value.contains("\"memory-backend-"), let range = value.firstRange(of: "\"size\":") else { return nil }
            let rest = value[range.upperBound...].drop { $0 == " " }
            return UInt64(rest.prefix { $0.isNumber })
        }
        let opts = parse(value, impliedKey: "qom-type")
        guard opts["qom-type"]?.hasPrefix("memory-backend-") == true, let size = opts["size"] else { return nil }
        return self.size(size, defaultUnit: 1)
    }

    /// `unix:/path,server=on,wait=off` or `unix:path=/path,...` → `/path`.
    static func unixSocketPath(_ value: String) -> String? {
        guard value.hasPrefix("unix:") else { return nil }
        let opts = parse(String(value.dropFirst(5)), impliedKey: "path")
        return opts["path"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
