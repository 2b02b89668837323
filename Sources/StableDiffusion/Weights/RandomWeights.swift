import Compute
import Foundation

/// Deterministic stand-in weights: a xorshift stream seeded from (seed, name), uniform in
/// `[-scale, scale]`. Used by `WeightStore.random` so a benchmark of the SD 1.5 UNet needs no
/// download and gives the same numbers run after run.
struct RandomWeights: Sendable {
    let seed: UInt64
    let scale: Float

    func tensor(_ name: String, shape: [Int]) -> Tensor {
        var state = seed ^ 0x9E37_79B9_7F4A_7C15
        for byte in name.utf8 { state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        state |= 1
        let out = Tensor(uninitialized: shape)
        let step = 2 * scale / Float(1 << 24)
        for i in 0..<out.count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            out.pointer[i] = Float(state >> 40) * step - scale
        }
        return out
    }
}
