import SystemLibc

/// A joinable POSIX thread running one closure: the one thread helper of the codebase (push
/// sources and the pipelined replay start their producers through it).
struct ProducerThread {
    private let id: pthread_t

    /// The closure travels to the thread as a retained object pointer, released there.
    private final class Entry: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread; `cannotStartThread` with the error number when the system
    /// has no thread to give (EAGAIN).
    static func start(_ body: @escaping @Sendable () -> Void) -> Result<ProducerThread, PushSourceError> {
        let context = Unmanaged.passRetained(Entry(body)).toOpaque()
        #if canImport(Darwin)
        var id: pthread_t?
        #else
        var id = pthread_t()
        #endif
        let rc = pthread_create(&id, nil, { ProducerThread.main($0) }, context)
        guard rc == 0 else {
            Unmanaged<Entry>.fromOpaque(context).release()
            return .failure(.cannotStartThread(errno: rc))
        }
        #if canImport(Darwin)
        return .success(ProducerThread(id: id!))
        #else
        return .success(ProducerThread(id: id))
        #endif
    }

    private static func main(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        guard let context else { return nil }
        Unmanaged<Entry>.fromOpaque(context).takeRetainedValue().body()
        return nil
    }

    /// Waits for the thread to end. Call once.
    func join() {
        _ = pthread_join(id, nil)
    }
}
