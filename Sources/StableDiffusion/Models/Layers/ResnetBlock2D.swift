import Compute

/// diffusers' `ResnetBlock2D`: norm, SiLU, conv, (+ time embedding), norm, SiLU, conv, plus a
/// shortcut (a 1x1 convolution when the channel count changes).
final class ResnetBlock2D {
    let norm1: GroupNorm
    let conv1: Conv2D
    let timeEmbeddingProjection: Linear?
    let norm2: GroupNorm
    let conv2: Conv2D
    let shortcut: Conv2D?
    let outChannels: Int
    /// conv1's bias as a `[1, C]` row, the residual of the time-embedding projection.
    private let conv1BiasRow: Tensor

    init(_ w: WeightScope, in inChannels: Int, out outChannels: Int, timeEmbeddingChannels: Int?,
         groups: Int, epsilon: Float) throws {
        self.outChannels = outChannels
        norm1 = try .load(w("norm1"), channels: inChannels, groups: groups, epsilon: epsilon)
        conv1 = try .load(w("conv1"), in: inChannels, out: outChannels, kernel: 3)
        conv1BiasRow = try w("conv1").tensor("bias", [outChannels]).reshaped([1, outChannels])
        timeEmbeddingProjection = try timeEmbeddingChannels.map { try .load(w("time_emb_proj"), in: $0, out: outChannels) }
        norm2 = try .load(w("norm2"), channels: outChannels, groups: groups, epsilon: epsilon)
        conv2 = try .load(w("conv2"), in: outChannels, out: outChannels, kernel: 3)
        shortcut = inChannels == outChannels ? nil : try .load(w("conv_shortcut"), in: inChannels, out: outChannels, kernel: 1)
    }

    /// `x` is one sample `[1, H, W, C]`; `timeEmbedding` is that sample's SiLU-activated
    /// embedding `[1, T]` (nil in the VAE). Pass `x` with `consume` where the caller is done with
    /// it: each intermediate is then freed, or written over, as soon as it is dead (at most the
    /// input, or the shortcut, plus two feature maps live at once), the same arithmetic either way.
    func callAsFunction(_ x: consuming Tensor, timeEmbedding: Tensor? = nil) throws -> Tensor {
        var bias: Tensor? = nil
        if let timeEmbeddingProjection, let timeEmbedding {
            // conv1's bias + this sample's projected time embedding, added in one place.
            bias = try timeEmbeddingProjection(timeEmbedding, residual: conv1BiasRow).reshaped([outChannels])
        }
        let input = consume x
        // The shortcut first, so that norm1 can overwrite the input when the shortcut is a
        // convolution (with an identity shortcut the input lives on as the residual).
        let skip = try shortcut.map { try $0(input) } ?? input
        var h = try conv1(norm1(consume input, silu: true), biasOverride: bias)
        h = try norm2(consume h, silu: true)
        return try conv2(h, residual: consume skip)
    }
}
