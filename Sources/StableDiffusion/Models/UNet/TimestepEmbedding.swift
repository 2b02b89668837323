import Compute
import Foundation

/// Sinusoidal timestep features followed by diffusers' `TimestepEmbedding` MLP
/// (linear, SiLU, linear). Computed in float32 in the same order as diffusers'
/// `get_timestep_embedding`, so the features match to the last bit or so.
final class TimestepEmbedding {
    /// diffusers' `Timesteps` (`get_timestep_embedding`): `channels` sinusoidal features of a
    /// number, used for the timestep and, in SDXL, for each time id (`add_time_proj`).
    struct Sinusoid {
        let channels: Int
        let flipSinToCos: Bool
        let freqShift: Float

        func callAsFunction(_ t: Float) -> [Float] {
            let half = channels / 2
            var values = [Float](repeating: 0, count: channels)
            let logPeriod = -Float(log(10000.0))
            for i in 0..<half {
                let exponent = logPeriod * Float(i) / (Float(half) - freqShift)
                let arg = t * expf(exponent)
                let (s, c) = (sinf(arg), cosf(arg))
                values[i] = flipSinToCos ? c : s
                values[half + i] = flipSinToCos ? s : c
            }
            return values
        }
    }

    let sinusoid: Sinusoid
    let linear1: Linear
    let linear2: Linear

    var channels: Int { sinusoid.channels }

    init(_ w: WeightScope, channels: Int, embeddingChannels: Int, flipSinToCos: Bool, freqShift: Float) throws {
        sinusoid = Sinusoid(channels: channels, flipSinToCos: flipSinToCos, freqShift: freqShift)
        linear1 = try .load(w("linear_1"), in: channels, out: embeddingChannels)
        linear2 = try .load(w("linear_2"), in: embeddingChannels, out: embeddingChannels)
    }

    /// Sinusoidal features of one timestep, `[1, channels]`.
    func features(_ t: Float) -> Tensor {
        Tensor(shape: [1, channels], values: sinusoid(t))
    }

    /// The embedding of one timestep after the MLP, with the SiLU every ResNet block applies
    /// to it already done (`[1, embeddingChannels]`).
    func activated(_ t: Float) throws -> Tensor {
        try linear2(linear1(features(t), activation: .silu), activation: .silu)
    }

    /// The embedding before that SiLU, for models that add something to it first (SDXL).
    func embedding(_ t: Float) throws -> Tensor {
        try linear2(linear1(features(t), activation: .silu))
    }
}
