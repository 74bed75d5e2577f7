import CKVMHost

/// The KVM ioctls encmon issues, one typed wrapper each (include/uapi/linux/kvm.h).
public enum KVMIoctl {
    /// `KVM_GET_STATS_FD` = `_IO(KVMIO, 0xce)`, on a VM or vCPU descriptor.
    public static let getStatsFDRequest: UInt = 0xAECE

    /// A new descriptor for the binary statistics of the VM or vCPU behind `fd`.
    public static func getStatsFD(_ fd: OwnedFileDescriptor, what: String) throws(SystemCallError) -> OwnedFileDescriptor {
        let statsFD = try retryingOnInterrupt("ioctl KVM_GET_STATS_FD on \(what)") {
            ckvm_ioctl_none(fd.rawValue, getStatsFDRequest)
        }
        return OwnedFileDescriptor(adopting: statsFD)
    }

    /// An ioctl whose argument is a pointer to `argument`'s bytes (the kernel may write through it).
    public static func withPointer(_ fd: OwnedFileDescriptor, request: UInt, name: String,
                                   argument: UnsafeMutableRawPointer) throws(SystemCallError) -> Int32 {
        try retryingOnInterrupt("ioctl \(name) on fd \(fd.rawValue)") {
            ckvm_ioctl_pointer(fd.rawValue, request, argument)
        }
    }
}
