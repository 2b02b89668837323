import Compute
import Foundation

/// PyTorch's CPU random generator (`torch.Generator("cpu").manual_seed(seed)`) and its normal
/// sampler, so that a seed means here what it means in diffusers.
///
/// `randn(count)` reproduces `torch.randn(count, generator=g)` for float32, draw after draw:
/// - 16 or more values: every uniform is drawn first (24 random bits each), then Box-Muller
///   turns each block of 16 into normals, pairing value `i` with `i + 8`; when the count is not a
///   multiple of 16 the last 16 positions are drawn again and transformed again
///   (ATen `normal_fill` / `normal_fill_16`).
/// - fewer than 16 values: one double-precision Box-Muller draw per value, from 53-bit uniforms,
///   where every second value is the cached sine half of the previous pair
///   (ATen `normal_distribution<double>`). The cache lives in the generator and survives between
///   calls, as in PyTorch.
///
/// Uniforms are bit-exact. PyTorch's vectorised `log`/`cos`/`sin` can round the last bit
/// differently from libm, so normals agree to within a few float ulps.
public struct TorchGenerator: Codable, Sendable, Equatable {
    private var engine: MersenneTwister
    /// The second value of the last double-precision Box-Muller pair, not yet handed out.
    private var cachedDoubleNormal: Double?

    public init(seed: UInt64) {
        engine = MersenneTwister(seed: seed)
        cachedDoubleNormal = nil
    }

    /// A float uniform in [0, 1) from 24 random bits (`uniform_real_distribution<float>`).
    public mutating func uniformFloat() -> Float {
        Float(engine.next() & 0xFF_FFFF) * Float(1.0 / 16_777_216.0)
    }

    /// A double uniform in [0, 1) from 53 of 64 random bits (`uniform_real_distribution<double>`);
    /// the first 32-bit draw is the high word.
    public mutating func uniformDouble() -> Double {
        let high = UInt64(engine.next()), low = UInt64(engine.next())
        let bits = ((high << 32) | low) & ((1 << 53) - 1)
        return Double(bits) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `torch.randn(count, generator=self)` as float32 values, advancing the generator.
    public mutating func randn(count: Int) -> [Float] {
        precondition(count >= 0, "randn count must not be negative")
        if count < 16 { return (0..<count).map { _ in Float(nextDoubleNormal()) } }
        var data = (0..<count).map { _ in uniformFloat() }
        data.withUnsafeMutableBufferPointer { buffer in
            var start = 0
            while start + 16 <= count {
                Self.boxMuller16(buffer.baseAddress! + start)
                start += 16
            }
        }
        if count % 16 != 0 {
            let tail = count - 16
            for i in 0..<16 { data[tail + i] = uniformFloat() }
            data.withUnsafeMutableBufferPointer { Self.boxMuller16($0.baseAddress! + tail) }
        }
        return data
    }

    /// `torch.randn(shape, generator=self)` as a tensor of that shape (row-major, as PyTorch).
    public mutating func randn(shape: [Int]) -> Tensor {
        Tensor(shape: shape, values: randn(count: shape.reduce(1, *)))
    }

    /// One standard normal from the double-precision path, using the cached half when present.
    private mutating func nextDoubleNormal() -> Double {
        if let cached = cachedDoubleNormal {
            cachedDoubleNormal = nil
            return cached
        }
        let u1 = uniformDouble()
        let u2 = uniformDouble()
        let radius = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedDoubleNormal = radius * sin(theta)
        return radius * cos(theta)
    }

    /// Box-Muller over 16 uniforms in place: (1 - d[j], d[j + 8]) -> (r cos, r sin), j < 8.
    private static func boxMuller16(_ data: UnsafeMutablePointer<Float>) {
        for j in 0..<8 {
            let u1 = 1 - data[j]
            let u2 = data[j + 8]
            let radius = (-2 * logf(u1)).squareRoot()
            // As ATen's AVX2 kernel (the one x86 CPUs run): theta = float(2 pi) * u2 in float.
            let theta = Float(2.0 * Double.pi) * u2
            data[j] = radius * cosf(theta)
            data[j + 8] = radius * sinf(theta)
        }
    }
}
