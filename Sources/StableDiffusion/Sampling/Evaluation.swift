import Compute

/// One UNet evaluation a step needs: which text, on which (already scaled) latent, at which
/// timestep. Whoever owns the UNet runs it and hands the prediction back to `Sampler.advance`.
public struct Evaluation: Sendable {
    public let slot: TextSlot
    /// NCHW `[1, C, h, w]`, already passed through the scheduler's `scaleModelInput`.
    public let latentInput: Tensor
    /// The model timestep (fractional for Euler with Karras sigmas).
    public let timestep: Float
    /// The step this evaluation belongs to.
    public let stepIndex: Int
}
