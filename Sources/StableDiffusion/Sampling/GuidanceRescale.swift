import Compute

/// Guidance rescale (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are
/// Flawed", section 3.4; diffusers' `rescale_noise_cfg`): classifier-free guidance inflates the
/// prediction's spread, which over-exposes images from zero-terminal-SNR and v-prediction models.
/// The guided prediction is rescaled to the conditional prediction's standard deviation and
/// blended with the unrescaled one: `phi * guided * (std(cond) / std(guided)) + (1 - phi) * guided`.
public enum GuidanceRescale {
    /// `guided` itself for `phi` 0. The standard deviations are over the whole image (every
    /// channel and pixel), unbiased (N - 1) as `torch.std`, accumulated in double.
    public static func apply(_ phi: Float, guided: Tensor, cond: Tensor) throws -> Tensor {
        guard phi > 0 else { return guided }
        let factor = Float(standardDeviation(cond) / standardDeviation(guided))
        return try SchedulerMath.map(guided, guided) { g, _ in
            let rescaled = g * factor
            return phi * rescaled + (1 - phi) * g
        }
    }

    static func standardDeviation(_ tensor: Tensor) -> Double {
        let n = tensor.count
        guard n > 1 else { return 0 }
        var sum = 0.0
        for i in 0..<n { sum += Double(tensor.pointer[i]) }
        let mean = sum / Double(n)
        var squares = 0.0
        for i in 0..<n { let d = Double(tensor.pointer[i]) - mean; squares += d * d }
        return (squares / Double(n - 1)).squareRoot()
    }
}
