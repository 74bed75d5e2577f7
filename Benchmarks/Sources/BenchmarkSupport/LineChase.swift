/// The memory floor of an update: a chain of dependent loads, each from a random 64-byte line of
/// a buffer as large as the structure measured, and nothing else. A map whose updates each need
/// one line that is not cached, and whose work between two such loads is longer than the core's
/// out-of-order window, cannot update faster than this chain steps, whatever it computes.
public final class LineChase {
    private static let lineWords = 16  // UInt32 words per 64-byte line
    private let words: UnsafeMutablePointer<UInt32>
    private let lines: Int
    private var position: UInt32 = 0

    /// A buffer of at least `bytes` (two lines at least), its lines linked in one random cycle
    /// (Sattolo's shuffle), so that every step is a line the chain has not touched for a cycle.
    public init(bytes: Int, seed: UInt64) {
        lines = Swift.max(2, bytes / 64)
        words = .allocate(capacity: lines * Self.lineWords)
        words.initialize(repeating: 0, count: lines * Self.lineWords)
        var order = Array(0..<UInt32(lines))
        var rng = SplitMix64(seed: seed)
        var i = lines - 1
        while i > 0 {
            let j = Int(rng.next(below: UInt64(i)))
            order.swapAt(i, j)
            i -= 1
        }
        // order is one cycle over all lines: line order[k] links to order[k + 1].
        for k in 0..<lines { words[Int(order[k]) * Self.lineWords] = order[(k + 1) % lines] }
    }

    deinit { words.deallocate() }

    /// Takes `steps` dependent steps; returns where it ended (for `blackHole`).
    @inline(never)
    public func run(steps: Int) -> UInt32 {
        var p = position
        for _ in 0..<steps { p = words[Int(p) &* Self.lineWords] }
        position = p
        return p
    }
}
