import Compute

/// diffusers' `EulerAncestralDiscreteScheduler` ("Euler a"): an Euler step down to `sigma_down`,
/// then fresh noise of size `sigma_up` drawn from the image's own generator, exactly as
/// diffusers draws it (the same generator that made the initial latents).
public struct EulerAncestralDiscreteScheduler: Scheduler {
    public let settings: SchedulerSettings
    let grid: EulerGrid

    public init(settings: SchedulerSettings, steps: Int) throws {
        self.settings = settings
        grid = EulerGrid(settings, steps: steps, allowKarras: false)
    }

    public var timesteps: [Float] { grid.timesteps }
    /// Per-step sigmas plus the final one.
    public var sigmas: [Float] { grid.sigmas }
    public var initNoiseSigma: Float { grid.initNoiseSigma }
    public func sigma(atStep stepIndex: Int) -> Float { grid.sigmas[stepIndex] }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        grid.scaleModelInput(sample, stepIndex: stepIndex)
    }

    public func step(_ modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                     state: inout SchedulerState, generator: inout TorchGenerator) throws -> Tensor {
        try grid.checkStep(stepIndex)
        let sigmaFrom = sigmas[stepIndex], sigmaTo = sigmas[stepIndex + 1]
        let x0 = try EulerMath.originalSample(modelOutput, sample: sample, sigma: sigmaFrom, prediction: settings.predictionType)
        let sigmaUp = ((sigmaTo * sigmaTo) * (sigmaFrom * sigmaFrom - sigmaTo * sigmaTo) / (sigmaFrom * sigmaFrom)).squareRoot()
        let sigmaDown = (sigmaTo * sigmaTo - sigmaUp * sigmaUp).squareRoot()
        let dt = sigmaDown - sigmaFrom
        let deterministic = try SchedulerMath.map(sample, x0) { s, x in s + ((s - x) / sigmaFrom) * dt }
        // diffusers draws the noise on every step, the last one included (where sigma_up is 0).
        let noise = generator.randn(shape: modelOutput.shape)
        return try SchedulerMath.map(deterministic, noise) { p, n in p + n * sigmaUp }
    }
}
