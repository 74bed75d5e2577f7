import SystemLibc

/// The file-system calls discovery needs on /proc and /run: each a thin wrapper with a typed error.
public enum FileSystemCalls {
    /// readlink(2): the link's target (`anon_inode:kvm-vm`, `/dev/kvm`, ...).
    public static func readLink(_ path: String) throws(SystemCallError) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = try retryingOnInterrupt("readlink \(path)") { Glibc.readlink(path, &buffer, buffer.count - 1) }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The entry names of a directory, without `.` and `..`, in no particular order.
    public static func listDirectory(_ path: String) throws(SystemCallError) -> [String] {
        guard let dir = opendir(path) else { throw SystemCallError(call: "opendir \(path)", errno: Glibc.errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// The whole file (procfs and small status files).
    public static func readFile(_ path: String, limit: Int = 1 << 24) throws(SystemCallError) -> [UInt8] {
        try OwnedFileDescriptor.openReadOnly(path).readToEnd(what: path, limit: limit)
    }

    /// A small text file (procfs, tracefs status) of up to `limit` bytes, or nil when it cannot be
    /// read: for callers to whom a missing file is an answer (the process exited, the instance is gone).
    public static func readSmallText(_ path: String, limit: Int = 8192) -> String? {
        (try? readFile(path, limit: limit)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes `text` to an existing file in one write(2), opened close-on-exec with O_TRUNC (the
    /// way tracefs control files take a value); a short write is an EIO.
    public static func writeFile(_ path: String, _ text: String) throws(SystemCallError) {
        let fd = try retryingOnInterrupt("open \(path)") { Glibc.open(path, O_WRONLY | O_TRUNC | O_CLOEXEC) }
        defer { _ = Glibc.close(fd) }
        let bytes = Array(text.utf8)
        let written = try retryingOnInterrupt("write \(path)") {
            bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        }
        if written != bytes.count { throw SystemCallError(call: "write \(path)", errno: EIO) }
    }

    /// True when `path` exists (stat(2) succeeds), whatever it is.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }
}
