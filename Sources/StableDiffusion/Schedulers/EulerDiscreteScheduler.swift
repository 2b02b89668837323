import Compute

/// diffusers' `EulerDiscreteScheduler` (Karras et al. 2022, Algorithm 2 without churn):
/// deterministic first-order steps in sigma.
public struct EulerDiscreteScheduler: Scheduler {
    public let settings: SchedulerSettings
    public let timesteps: [Float]
    /// Per-step sigmas plus the final one.
    public let sigmas: [Float]
    public let initNoiseSigma: Float

    public init(settings: SchedulerSettings, steps: Int) throws {
        self.settings = settings
        let schedule = SigmaSchedule(settings, schedule: NoiseSchedule(settings), steps: steps, allowKarras: true)
        timesteps = schedule.timesteps
        sigmas = schedule.sigmas
        initNoiseSigma = schedule.initNoiseSigma(settings.timestepSpacing)
    }

    public func sigma(atStep stepIndex: Int) -> Float { sigmas[stepIndex] }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        EulerMath.scaleModelInput(sample, sigma: sigmas[stepIndex])
    }

    public func step(_ modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                     state: inout SchedulerState, generator: inout TorchGenerator) throws -> Tensor {
        guard stepIndex >= 0, stepIndex < timesteps.count else {
            throw SchedulerError.stepOutOfRange(stepIndex: stepIndex, stepCount: timesteps.count)
        }
        let sigma = sigmas[stepIndex]
        let x0 = try EulerMath.originalSample(modelOutput, sample: sample, sigma: sigma, prediction: settings.predictionType)
        let dt = sigmas[stepIndex + 1] - sigma
        return try SchedulerMath.map(sample, x0) { s, x in s + ((s - x) / sigma) * dt }
    }
}

/// Shared by the Euler schedulers.
enum EulerMath {
    /// `sample / sqrt(sigma^2 + 1)`: the UNet sees unit-variance input at every noise level.
    static func scaleModelInput(_ sample: Tensor, sigma: Float) -> Tensor {
        let divisor = (sigma * sigma + 1).squareRoot()
        return SchedulerMath.map(sample) { $0 / divisor }
    }

    /// The denoised estimate from the model output, as diffusers forms it.
    static func originalSample(_ modelOutput: Tensor, sample: Tensor, sigma: Float, prediction: PredictionType) throws -> Tensor {
        switch prediction {
        case .epsilon:
            return try SchedulerMath.map(sample, modelOutput) { s, m in s - sigma * m }
        case .vPrediction:
            let c1 = -sigma / (sigma * sigma + 1).squareRoot()
            let c2 = sigma * sigma + 1
            return try SchedulerMath.map(modelOutput, sample) { m, s in m * c1 + s / c2 }
        }
    }
}
