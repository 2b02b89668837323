/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator whose output depends only on the
/// seed, so data sets are identical on every machine and Swift version.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator for `seed`.
    public init(seed: UInt64) { state = seed }

    /// An independent stream for item `index` of a seeded collection, so item i does not
    /// depend on how many items came before it.
    public init(seed: UInt64, index: Int) {
        // Hash (seed, index) into a starting state: neighbouring indices must not start on
        // neighbouring points of the same SplitMix sequence (their streams would overlap).
        state = Self.mix(Self.mix(seed ^ 0x5DEE_CE66_D1CE_4E5B) &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
    }

    /// The SplitMix64 output function (a strong 64-bit bit mixer).
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// Uniform in [0, 1) from the top 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform integer in 0..<n (n > 0), by the multiply-shift method (bias below 2^-32 for small n).
    public mutating func below(_ n: Int) -> Int {
        Int(((next() >> 32) &* UInt64(n)) >> 32)
    }

    /// One element of `items`, uniformly.
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}
