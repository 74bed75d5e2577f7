/// The line prefixes the conversion fast path has read: the bytes before the timestamp (comm,
/// pid, cpu column, flags), by a hash of a line's first 24 bytes. A trace repeats a few of them
/// (one per vCPU thread, cpu and flags), and a line that starts with a kept prefix, byte for
/// byte, has that prefix's `[` and timestamp start and passes its pid check: the fast path then
/// reads only the time and the fields (issue 14: about a fifth of the parsing thread).
///
/// The compare is exact, and the table only holds prefixes whose `[`, timestamp start and pid the
/// full path has read (facts of the prefix bytes alone), so a hit gives what the full path would;
/// a miss costs the hash and one compare. A value type: a copy of the parser keeps its own table.
struct FastLinePrefixes: Sendable {
    static let slotBits = 6
    static let slots = 1 << slotBits
    /// Prefixes up to this many words (56 bytes).
    static let prefixWords = 7
    /// Words a slot: the prefix, the compare mask of each of its words, the metadata (length, `[`
    /// index), and one unused word that makes a slot 128 bytes.
    static let slotWords = 2 * prefixWords + 2
    static let maxLength = 8 * prefixWords

    private var table = [UInt64](repeating: 0, count: slots * slotWords)

    /// The first slot word of the line's slot, by its first 24 bytes; the caller checked that
    /// `maxLength` bytes are readable.
    @inline(__always)
    private static func slot(_ l: TraceLineBytes) -> Int {
        // Prefixes differ mostly in the pid's last digits, the high bytes of a word: fold them
        // down before the multiply that spreads them to the top bits.
        var h = l.word(at: 0) ^ l.word(at: 8).rotated(by: 21) ^ l.word(at: 16).rotated(by: 43)
        h ^= h &>> 32
        h = (h ^ (h &>> 16)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h &>> UInt64(64 - slotBits)) &* slotWords
    }

    /// The kept prefix the line starts with, if any: the index of its first `[` and of its
    /// timestamp's first byte. Only when the line's bytes run past the prefix and `maxLength`
    /// bytes can be read (every word is compared, masked: no loop, no branch per word).
    @inline(__always)
    func match(_ l: TraceLineBytes) -> (open: Int, timestampStart: Int)? {
        guard l.readable >= Self.maxLength else { return nil }
        let s = Self.slot(l)
        return table.withUnsafeBufferPointer { t in
            var differ: UInt64 = 0
            for k in 0..<Self.prefixWords {
                differ |= (l.word(at: 8 &* k) ^ t[s &+ k]) & t[s &+ Self.prefixWords &+ k]
            }
            let meta = t[s &+ 2 &* Self.prefixWords]
            let length = Int(truncatingIfNeeded: meta & 0xff)
            guard differ == 0, length > 0, length < l.count else { return nil }
            return (Int(truncatingIfNeeded: (meta &>> 8) & 0xff), length)
        }
    }

    /// Keeps the line's prefix (the full path read its `[` at `open` and its timestamp at
    /// `timestampStart`, and found a pid), replacing whatever shared its slot.
    mutating func keep(_ l: TraceLineBytes, open: Int, timestampStart: Int) {
        guard l.readable >= Self.maxLength, timestampStart <= Self.maxLength, open < timestampStart else { return }
        let s = Self.slot(l)
        table.withUnsafeMutableBufferPointer { t in
            for k in 0..<Self.prefixWords {
                let bytes = Swift.min(8, Swift.max(0, timestampStart &- 8 &* k))
                let mask = bytes == 0 ? 0 : ~UInt64(0) &>> UInt64(64 &- 8 &* bytes)
                t[s &+ k] = l.word(at: 8 &* k) & mask
                t[s &+ Self.prefixWords &+ k] = mask
            }
            t[s &+ 2 &* Self.prefixWords] = UInt64(timestampStart) | UInt64(open) &<< 8
        }
    }
}

extension UInt64 {
    /// Rotated left by `k` (0 < k < 64). Also the simulator's xoshiro256**.
    @inline(__always)
    func rotated(by k: UInt64) -> UInt64 { self &<< k | self &>> (64 &- k) }
}
