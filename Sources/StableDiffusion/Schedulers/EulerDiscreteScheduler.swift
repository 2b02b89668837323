import Compute

/// diffusers' `EulerDiscreteScheduler` (Karras et al. 2022, Algorithm 2 without churn):
/// deterministic first-order steps in sigma.
public struct EulerDiscreteScheduler: Scheduler {
    public let settings: SchedulerSettings
    let grid: EulerGrid

    public init(settings: SchedulerSettings, steps: Int) throws {
        self.settings = settings
        grid = EulerGrid(settings, steps: steps, allowKarras: true)
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
        let sigma = sigmas[stepIndex]
        let x0 = try EulerMath.originalSample(modelOutput, sample: sample, sigma: sigma, prediction: settings.predictionType)
        let dt = sigmas[stepIndex + 1] - sigma
        return try SchedulerMath.map(sample, x0) { s, x in s + ((s - x) / sigma) * dt }
    }
}

/// The step grid shared by the Euler schedulers: timesteps, sigmas and the input scaling.
struct EulerGrid: Sendable {
    let timesteps: [Float]
    let sigmas: [Float]
    let initNoiseSigma: Float

    init(_ settings: SchedulerSettings, steps: Int, allowKarras: Bool) {
        let schedule = SigmaSchedule(settings, schedule: NoiseSchedule(settings), steps: steps, allowKarras: allowKarras)
        timesteps = schedule.timesteps
        sigmas = schedule.sigmas
        initNoiseSigma = schedule.initNoiseSigma(settings.timestepSpacing)
    }

    func checkStep(_ stepIndex: Int) throws {
        guard stepIndex >= 0, stepIndex < timesteps.count else {
            throw SchedulerError.stepOutOfRange(stepIndex: stepIndex, stepCount: timesteps.count)
        }
    }

    /// `sample / sqrt(sigma^2 + 1)`: the UNet sees unit-variance input at every noise level.
    func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        let sigma = sigmas[stepIndex]
        let divisor = (sigma * sigma + 1).squareRoot()
        return SchedulerMath.map(sample) { $0 / divisor }
    }
}

/// The model-output conversion shared by the Euler schedulers.
enum EulerMath {
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
