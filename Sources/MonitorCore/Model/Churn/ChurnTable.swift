/// The churn tracker's buffers by first page: a flat open-addressing table (linear probing,
/// backward-shift deletion, no tombstones), grown by doubling at half load.
///
/// The guest chooses the keys, so the hash is keyed by a per-process random seed: without it a
/// guest could pick first pages that all land in one probe run and make every lookup O(n) (hash
/// flooding). The mixer is wyhash's 128-bit multiply-fold over the key and two secret words.
///
/// A value type: the slot arrays are copy-on-write. Lookup, insert and remove are O(1) expected.
struct ChurnTable<Value>: Sendable where Value: Sendable {
    /// No first page is this large (first pages are at most `PageRange.maxPage`), so it marks an empty slot.
    static var emptyKey: UInt64 { .max }

    private(set) var keys: [UInt64]
    private(set) var values: [Value?]
    private(set) var count = 0
    let seed: ChurnHashSeed

    init(seed: ChurnHashSeed = .process, minimumCapacity: Int = 16) {
        self.seed = seed
        var capacity = 16
        while capacity < 2 * minimumCapacity { capacity <<= 1 }
        keys = Array(repeating: Self.emptyKey, count: capacity)
        values = Array(repeating: nil, count: capacity)
    }

    private var mask: Int { keys.count &- 1 }

    @inline(__always)
    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: seed.hash(key)) & mask }

    /// The slot holding `key`, or the empty slot where it would go (`found` false). O(1) expected.
    @inline(__always)
    func slot(of key: UInt64) -> (index: Int, found: Bool) {
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return (i, true) }
            if k == Self.emptyKey { return (i, false) }
            i = (i &+ 1) & mask
        }
    }

    subscript(key: UInt64) -> Value? {
        get {
            let (i, found) = slot(of: key)
            return found ? values[i] : nil
        }
        set {
            if let newValue { insert(key, newValue) } else { remove(key) }
        }
    }

    /// The value at a slot `slot(of:)` found (`update(slot:)` changes it).
    subscript(slot i: Int) -> Value { values[i]! }

    /// Changes the value at a slot `slot(of:)` found, in place.
    @inline(__always)
    mutating func update<R>(slot i: Int, _ body: (inout Value) -> R) -> R {
        values.withUnsafeMutableBufferPointer { v in body(&v[i]!) }
    }

    /// Writes `value` at the empty slot `i` that `slot(of: key)` returned; may grow the table,
    /// which moves entries (slots returned before are then stale).
    mutating func insert(_ key: UInt64, _ value: Value, at i: Int) {
        precondition(key != Self.emptyKey, "first page \(key) is the empty marker")
        keys[i] = key
        values[i] = value
        count &+= 1
        if 2 * count > keys.count { grow() }
    }

    mutating func insert(_ key: UInt64, _ value: Value) {
        let (i, found) = slot(of: key)
        if found { values[i] = value } else { insert(key, value, at: i) }
    }

    mutating func remove(_ key: UInt64) {
        let (i, found) = slot(of: key)
        if found { remove(at: i) }
    }

    /// Empties slot `i` and shifts back the entries after it in its probe run, so that every
    /// entry stays reachable from its home slot without tombstones.
    mutating func remove(at slot: Int) {
        var hole = slot
        var j = slot
        while true {
            j = (j &+ 1) & mask
            let k = keys[j]
            if k == Self.emptyKey { break }
            // The entry at j may fill the hole if its home is not cyclically in (hole, j].
            let h = home(k)
            let inRun = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !inRun {
                keys[hole] = k
                values[hole] = values[j]
                hole = j
            }
        }
        keys[hole] = Self.emptyKey
        values[hole] = nil
        count &-= 1
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = Array(repeating: Self.emptyKey, count: oldKeys.count * 2)
        values = Array(repeating: nil, count: oldKeys.count * 2)
        count = 0
        for i in oldKeys.indices where oldKeys[i] != Self.emptyKey {
            let (j, _) = slot(of: oldKeys[i])
            keys[j] = oldKeys[i]
            values[j] = oldValues[i]
            count &+= 1
        }
    }

    /// Keeps the entries `keep` accepts and shrinks the table to fit them. O(capacity).
    mutating func filter(_ keep: (UInt64, Value) -> Bool) {
        var kept: [(UInt64, Value)] = []
        for i in keys.indices where keys[i] != Self.emptyKey {
            if let v = values[i], keep(keys[i], v) { kept.append((keys[i], v)) }
        }
        self = ChurnTable(seed: seed, minimumCapacity: kept.count)
        for (k, v) in kept { insert(k, v) }
    }

    /// Applies `body` to every value in place. O(capacity).
    mutating func updateAll(_ body: (inout Value) -> Void) {
        for i in values.indices where keys[i] != Self.emptyKey { body(&values[i]!) }
    }

    /// Every entry, in table order (unspecified). O(capacity).
    var entries: [(key: UInt64, value: Value)] {
        var out: [(key: UInt64, value: Value)] = []
        out.reserveCapacity(count)
        for i in keys.indices where keys[i] != Self.emptyKey { out.append((keys[i], values[i]!)) }
        return out
    }
}

/// The secret words of the churn table's hash. `.process` is drawn once per process from the
/// system's random source; tests pass their own to reach chosen collisions.
struct ChurnHashSeed: Sendable, Hashable {
    var k0: UInt64
    var k1: UInt64

    static let process: ChurnHashSeed = {
        var g = SystemRandomNumberGenerator()
        return ChurnHashSeed(k0: g.next(), k1: g.next())
    }()

    /// wyhash's final mix: the two halves of a 128-bit product of key and secret words, folded.
    @inline(__always)
    func hash(_ key: UInt64) -> UInt64 {
        let (hi, lo) = (key ^ k0).multipliedFullWidth(by: k1 ^ 0x9E37_79B9_7F4A_7C15)
        let (h2, l2) = (hi ^ lo ^ k0).multipliedFullWidth(by: 0xE703_7ED1_A0B4_28DB)
        return h2 ^ l2
    }
}
