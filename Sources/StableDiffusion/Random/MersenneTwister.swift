/// The 32-bit Mersenne Twister (mt19937) exactly as PyTorch's CPU generator runs it
/// (`at::mt19937`): standard initialisation from the low 32 bits of the seed, standard tempering.
///
/// A value type, so a generator's position can be copied, compared and persisted.
public struct MersenneTwister: Codable, Sendable, Equatable {
    static let stateSize = 624
    static let shift = 397

    /// The 624 words of state.
    private(set) var state: [UInt32]
    /// Index of the next word to temper; 624 means the state must be regenerated first.
    private(set) var index: Int

    /// PyTorch seeds with `seed & 0xffffffff` (`init_with_uint32`), so seeds that differ only above
    /// bit 31 give the same stream, as in PyTorch.
    public init(seed: UInt64) {
        var words = [UInt32](repeating: 0, count: Self.stateSize)
        words[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<Self.stateSize {
            let previous = words[j - 1]
            words[j] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(j)
        }
        state = words
        index = Self.stateSize
    }

    /// The next 32 random bits.
    public mutating func next() -> UInt32 {
        if index >= Self.stateSize { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        let n = Self.stateSize, m = Self.shift
        for i in 0..<n {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % n] & 0x7FFF_FFFF)
            var value = state[(i + m) % n] ^ (y >> 1)
            if y & 1 != 0 { value ^= 0x9908_B0DF }
            state[i] = value
        }
        index = 0
    }
}
