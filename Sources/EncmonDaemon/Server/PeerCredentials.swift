import SystemLibc
import NIOCore

/// `struct ucred` of SO_PEERCRED (include/linux/socket.h: pid_t pid; uid_t uid; gid_t gid): three
/// 32-bit fields, declared here as a Swift struct of the same layout because NIO's getsockopt
/// needs a Sendable value type.
struct PeerCredentials: Sendable, Hashable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0

    /// The connected peer's credentials, as the kernel recorded them at connect(2).
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
    }
}

/// Who may read from the socket: root, the daemon's own user, and members of the socket's group.
struct AccessPolicy: Sendable {
    var groupID: UInt32
    var groupName: String
    var ownUID: UInt32 = getuid()

    /// Checks the peer's uid, primary gid, and (from `/proc/PID/status`) its supplementary groups.
    func allows(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == ownUID || peer.gid == groupID { return true }
        return ProcFS.groups(of: peer.pid).contains(groupID)
    }
}
