/// The simulator's own random numbers: xoshiro256** seeded through SplitMix64, as its authors
/// recommend (prng.di.unimi.it). No system randomness, so a seed replays the same guest anywhere.
struct SimulatorRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    mutating func next() -> UInt64 {
        let result = (s1 &* 5).rotated(by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3.rotated(by: 45)
        return result
    }

    /// Uniform in 0 ..< 1 with 53 random bits.
    mutating func unit() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform in 0 ..< bound (bound > 0), by multiply-shift (Lemire); the tiny bias is irrelevant here.
    mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        return next().multipliedFullWidth(by: bound).high
    }

    /// Exponential with the given mean: gaps of a Poisson process.
    mutating func exponential(mean: Double) -> Double { mean * log1pNeg(unit()) }

    /// Log-uniform in lo ... hi: lifetimes spread over orders of magnitude (ms to s).
    mutating func logUniform(_ lo: Double, _ hi: Double) -> Double {
        lo * pow2(unit() * log2(hi / lo))
    }
}

/// SplitMix64: the seeding generator, also the tests' deterministic source (a failing seed
/// replays exactly).
struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    init(state: UInt64) { self.state = state }
    init(seed: UInt64) { state = seed }
    mutating func below(_ n: UInt64) -> UInt64 { next() % n }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// Foundation-free maths for the few transcendental functions the simulator needs. Accuracy of
// about 1e-12 is plenty for lifetimes and gaps, and the results are bit-identical on every platform.

/// -ln(1 - u) for u in 0 ..< 1.
private func log1pNeg(_ u: Double) -> Double { -ln(1 - u) }

/// Natural logarithm by range reduction to [1, 2) and the atanh series.
func ln(_ x: Double) -> Double {
    precondition(x > 0)
    let e = Double(x.exponent)
    let m = x.significand  // 1 ..< 2
    let y = (m - 1) / (m + 1)
    let y2 = y * y
    var term = y, sum = 0.0
    var k = 1.0
    while k < 60 {
        sum += term / k
        term *= y2
        k += 2
        if abs(term) < 1e-18 { break }
    }
    return 2 * sum + e * 0.693_147_180_559_945_309_4
}

func log2(_ x: Double) -> Double { ln(x) / 0.693_147_180_559_945_309_4 }

/// 2^x by splitting off the integer part and a Taylor series of e^(f ln 2).
func pow2(_ x: Double) -> Double {
    let i = x.rounded(.down)
    let f = (x - i) * 0.693_147_180_559_945_309_4
    var term = 1.0, sum = 1.0
    var k = 1.0
    while k < 40 {
        term *= f / k
        sum += term
        if term < 1e-18 { break }
        k += 1
    }
    return Double(sign: .plus, exponent: Int(i), significand: sum)
}
