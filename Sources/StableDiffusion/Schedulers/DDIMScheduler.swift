import Compute

/// diffusers' `DDIMScheduler` with `eta = 0` (what StableDiffusionPipeline passes by default):
/// deterministic, one model evaluation per step.
public struct DDIMScheduler: Scheduler {
    public let settings: SchedulerSettings
    public let schedule: NoiseSchedule
    public let timesteps: [Float]
    public let initNoiseSigma: Float = 1
    let integerTimesteps: [Int]
    let stepRatio: Int
    let finalAlphaCumprod: Float

    public init(settings: SchedulerSettings, steps: Int) {
        self.settings = settings
        schedule = NoiseSchedule(settings)
        integerTimesteps = Self.timesteps(settings, steps: steps)
        timesteps = integerTimesteps.map(Float.init)
        stepRatio = settings.numTrainTimesteps / steps
        finalAlphaCumprod = settings.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
    }

    /// `DDIMScheduler.set_timesteps`, descending.
    static func timesteps(_ s: SchedulerSettings, steps: Int) -> [Int] {
        let train = s.numTrainTimesteps
        switch s.timestepSpacing {
        case .linspace:
            return NumPy.linspace(0, Double(train - 1), steps).map { Int(NumPy.round($0)) }.reversed()
        case .leading:
            let ratio = train / steps
            return (0..<steps).reversed().map { $0 * ratio + s.stepsOffset }
        case .trailing:
            let ratio = Double(train) / Double(steps)
            return NumPy.arange(Double(train), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }
    }

    public func sigma(atStep stepIndex: Int) -> Float { schedule.sigma(timestep: integerTimesteps[stepIndex]) }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public func step(_ modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                     state: inout SchedulerState, generator: inout TorchGenerator) throws -> Tensor {
        guard stepIndex >= 0, stepIndex < timesteps.count else {
            throw SchedulerError.stepOutOfRange(stepIndex: stepIndex, stepCount: timesteps.count)
        }
        let t = integerTimesteps[stepIndex]
        let prevT = t - stepRatio
        let alphaT = schedule.alphasCumprod[t]
        let alphaPrev = prevT >= 0 ? schedule.alphasCumprod[prevT] : finalAlphaCumprod
        let betaT = 1 - alphaT
        let (sqrtAlpha, sqrtBeta) = (alphaT.squareRoot(), betaT.squareRoot())
        // x0 and epsilon as diffusers forms them, then clipping, then the eta = 0 update.
        var x0: Tensor, eps: Tensor
        switch settings.predictionType {
        case .epsilon:
            x0 = try SchedulerMath.map(sample, modelOutput) { s, m in (s - sqrtBeta * m) / sqrtAlpha }
            eps = modelOutput
        case .vPrediction:
            x0 = try SchedulerMath.map(sample, modelOutput) { s, m in sqrtAlpha * s - sqrtBeta * m }
            eps = try SchedulerMath.map(sample, modelOutput) { s, m in sqrtAlpha * m + sqrtBeta * s }
        }
        if settings.clipSample {
            let r = Float(settings.clipSampleRange)
            x0 = SchedulerMath.map(x0) { min(max($0, -r), r) }
        }
        let direction = (1 - alphaPrev - 0).squareRoot()
        let sqrtAlphaPrev = alphaPrev.squareRoot()
        return try SchedulerMath.map(x0, eps) { x, e in sqrtAlphaPrev * x + direction * e }
    }
}
