import Foundation
import Testing
@testable import MonitorCore

/// The churn tracker's behaviour as it was with a `Dictionary` table: the simple reference the
/// flat seeded table is checked against (same observable results, whatever the seed).
private struct ReferenceChurn {
    struct Entry { var pages: UInt64; var sharedAt: EventTime; var isShared: Bool; var outstandingAtShare: UInt64
                   var flips: UInt64; var lastFlip: EventTime; var inPool = false }
    let window: EventTime, maxTracked: Int, poolableMaxPages: UInt64
    var entries: [UInt64: Entry] = [:]
    var outstanding: UInt64 = 0, totalFlips: UInt64 = 0, totalFlippedPages: UInt64 = 0, prunedUnflipped: UInt64 = 0
    var avoided = [UInt64](repeating: 0, count: ChurnTracker.poolSizes.count)

    mutating func observe(_ c: Conversion) -> UInt64 {
        let key = c.pages.lower, n = c.pages.count
        switch c.direction {
        case .toShared:
            let isNew = entries[key] == nil
            var e = entries[key] ?? Entry(pages: n, sharedAt: c.time, isShared: false, outstandingAtShare: 0, flips: 0, lastFlip: 0)
            if e.isShared && e.inPool { outstanding -= min(outstanding, e.pages) }
            e.pages = n; e.sharedAt = c.time; e.isShared = true
            e.outstandingAtShare = outstanding.addingSaturating(n)
            e.inPool = e.flips > 0 && n <= poolableMaxPages
            if e.inPool { outstanding.addSaturating(n) }
            entries[key] = e
            if isNew && entries.count > maxTracked { prune(now: c.time) }
            return 0
        case .toPrivate:
            guard var e = entries[key], e.isShared else { return 0 }
            e.isShared = false
            if e.flips == 0 && (c.time - e.sharedAt > window || e.pages != n) { entries[key] = nil; return 0 }
            if e.inPool { outstanding -= min(outstanding, e.pages); e.inPool = false }
            var flipped: UInt64 = 0
            if c.time - e.sharedAt <= window && e.pages == n {
                e.flips += 1; e.lastFlip = c.time; totalFlips += 1; totalFlippedPages.addSaturating(n); flipped = n
                if n <= poolableMaxPages {
                    for (i, k) in ChurnTracker.poolSizes.enumerated() where e.outstandingAtShare <= k { avoided[i] += 2 }
                }
            }
            entries[key] = e
            return flipped
        }
    }

    mutating func prune(now: EventTime) {
        let target = maxTracked / 2
        entries = entries.filter { $0.value.flips > 0 || now - $0.value.sharedAt <= window }
        if entries.count > target {
            let before = entries.count
            entries = entries.filter { $0.value.flips > 0 }
            prunedUnflipped += UInt64(before - entries.count)
        }
        if entries.count > target {
            var histogram = [Int](repeating: 0, count: 65)
            for e in entries.values { histogram[64 - e.flips.leadingZeroBitCount] += 1 }
            var kept = 0, bits = 64
            while bits > 0 && kept + histogram[bits] <= target { kept += histogram[bits]; bits -= 1 }
            let minimum: UInt64 = bits >= 64 ? .max : UInt64(1) << bits
            entries = entries.filter { $0.value.flips >= minimum }
        }
        outstanding = entries.values.reduce(0) { $0.addingSaturating($1.inPool ? $1.pages : 0) }
    }

    var flipped: [FlippedBuffer] {
        entries.compactMap { k, e in e.flips > 0 ? FlippedBuffer(pages: PageRange(first: k, count: e.pages), flips: e.flips, lastFlip: e.lastFlip) : nil }
            .sorted { $0.pages.lower < $1.pages.lower }
    }
}

@Suite struct ChurnTrackerTests {
    /// Random insert/update/remove/lookup against `Dictionary`, with few distinct keys in runs
    /// (long probe chains, removals in the middle of runs, wrap-around) and through growth.
    @Test(arguments: [ChurnHashSeed(k0: 0, k1: 0), ChurnHashSeed(k0: 0x1234_5678, k1: 0xDEAD_BEEF), .process])
    func tableMatchesDictionary(seed: ChurnHashSeed) {
        var rng = SplitMix64(seed: seed.k0 &+ 7)
        var table = ChurnTable<UInt64>(seed: seed)
        var reference: [UInt64: UInt64] = [:]
        for step in 0..<20_000 {
            // Phases of growth and shrinking; keys clustered so that home slots collide.
            let space: UInt64 = step % 5000 < 2500 ? 3000 : 300
            let key = rng.next() % space * (step % 3 == 0 ? 1 : 4096)
            switch rng.next() % 4 {
            case 0, 1:
                let v = rng.next()
                table[key] = v; reference[key] = v
            case 2:
                table[key] = nil; reference[key] = nil
            default:
                #expect(table[key] == reference[key], "key \(key) at step \(step)")
            }
            #expect(table.count == reference.count)
        }
        for (k, v) in reference { #expect(table[k] == v) }
        #expect(Set(table.entries.map(\.key)) == Set(reference.keys))
        table.filter { k, _ in k % 2 == 0 }
        #expect(table.count == reference.keys.filter { $0 % 2 == 0 }.count)
        for (k, v) in reference { #expect(table[k] == (k % 2 == 0 ? v : nil)) }
    }

    /// Different process seeds give tables that iterate differently but answer the same.
    @Test func seedsChangeLayoutNotContent() {
        var a = ChurnTable<Int>(seed: ChurnHashSeed(k0: 1, k1: 2)), b = ChurnTable<Int>(seed: ChurnHashSeed(k0: 3, k1: 4))
        for k in 0..<1000 { a[UInt64(k) * 4096] = k; b[UInt64(k) * 4096] = k }
        #expect(a.entries.map(\.key) != b.entries.map(\.key))
        #expect(a.entries.sorted { $0.key < $1.key }.map(\.value) == b.entries.sorted { $0.key < $1.key }.map(\.value))
    }

    /// The tracker over random DMA-like traffic (buffer reuse, size changes, late unmaps, a small
    /// `maxTracked` so that pruning runs) answers exactly as the Dictionary-based reference.
    @Test(arguments: [(UInt64(1), 64), (2, 64), (3, 4096)])
    func trackerMatchesReference(run: UInt64, maxTracked: Int) {
        let seeds = [ChurnHashSeed(k0: run, k1: ~run), .process]
        for seed in seeds {
            var rng = SplitMix64(seed: run)
            var tracker = ChurnTracker(window: 2, maxTracked: maxTracked, poolableMaxPages: 64, hashSeed: seed)
            var reference = ReferenceChurn(window: 2, maxTracked: maxTracked, poolableMaxPages: 64)
            var t: EventTime = 100
            for step in 0..<30_000 {
                t += Double(rng.next() % 100) / 1000
                let first = rng.next() % 400 * 16
                let count = rng.next() % 8 == 0 ? rng.next() % 200 + 1 : rng.next() % 4 + 1
                let direction: ConversionDirection = rng.next() % 2 == 0 ? .toShared : .toPrivate
                let c = Conversion(time: t, pages: PageRange(first: first, count: count), direction: direction, path: .hypercall)
                let got = tracker.observe(c), want = reference.observe(c)
                #expect(got == want, "step \(step)")
                if got != want { return }
            }
            #expect(tracker.trackedBuffers == reference.entries.count)
            #expect(tracker.totalFlips == reference.totalFlips)
            #expect(tracker.totalFlippedPages == reference.totalFlippedPages)
            #expect(tracker.prunedUnflipped == reference.prunedUnflipped)
            #expect(tracker.flippedBuffers() == reference.flipped)
            let top = reference.flipped.sorted(by: ChurnTracker.moreFlipped).prefix(10)
            #expect(tracker.mostFlipped(limit: 10) == Array(top))
            #expect(tracker.poolWhatIf(totalConversions: 1000).map(\.conversionsAvoided) == reference.avoided)
            for lower in stride(from: UInt64(0), to: 6400, by: 700) {
                for width: UInt64 in [1, 40, 3000] {
                    let r = PageRange(first: lower, count: width)
                    let want = reference.entries.reduce(UInt64(0)) { r.contains($1.key) ? $0 + $1.value.flips : $0 }
                    #expect(tracker.flips(startingIn: r) == want)
                }
            }
        }
    }

    /// A decoded table refuses first pages past the address space (they could alias the empty
    /// slot marker) instead of trapping.
    @Test func decodingRefusesImpossibleFirstPages() throws {
        var tracker = ChurnTracker(window: 2, maxTracked: 16)
        _ = tracker.observe(Conversion(time: 1, pages: PageRange(first: 5, count: 1), direction: .toShared, path: .hypercall))
        let data = try JSONEncoder().encode(tracker)
        let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\"first\":5", with: "\"first\":18446744073709551615")
        #expect(text.contains("18446744073709551615"))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ChurnTracker.self, from: Data(text.utf8)) }
        let back = try JSONDecoder().decode(ChurnTracker.self, from: data)
        #expect(back.trackedBuffers == 1)
    }
}
