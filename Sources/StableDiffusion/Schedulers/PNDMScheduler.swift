import Compute

/// diffusers' `PNDMScheduler`. With `skip_prk_steps = true` (PLMS, the Stable Diffusion v1
/// default) N inference steps take N + 1 model evaluations: the second step re-evaluates the first
/// timestep to start the linear multistep method (as diffusers does). Without it, 12 Runge-Kutta
/// evaluations over the first 4 timesteps start the method instead (N + 9 in all, N >= 4;
/// `PNDMScheduler+RungeKutta.swift`).
public struct PNDMScheduler: Scheduler {
    public let settings: SchedulerSettings
    public let schedule: NoiseSchedule
    public let timesteps: [Float]
    public let initNoiseSigma: Float = 1
    let integerTimesteps: [Int]
    let stepRatio: Int
    let finalAlphaCumprod: Float
    /// How many leading steps are Runge-Kutta steps (0 with `skip_prk_steps`, else 12).
    let rungeKuttaSteps: Int

    public init(settings: SchedulerSettings, steps: Int) {
        self.settings = settings
        schedule = NoiseSchedule(settings)
        let grid = Self.grid(settings, steps: steps)
        if settings.skipPrkSteps {
            // concat(g[:-1], g[-2:-1], g[-1:]) reversed
            integerTimesteps = (Array(grid.dropLast()) + Array(grid.dropLast().suffix(1)) + Array(grid.suffix(1))).reversed()
            rungeKuttaSteps = 0
        } else {
            let prk = Self.rungeKuttaTimesteps(grid, halfStep: settings.numTrainTimesteps / steps / 2)
            integerTimesteps = prk + Array(grid.dropLast(3).reversed())
            rungeKuttaSteps = prk.count
        }
        timesteps = integerTimesteps.map(Float.init)
        stepRatio = settings.numTrainTimesteps / steps
        finalAlphaCumprod = settings.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
    }

    /// The ascending timestep grid of `PNDMScheduler.set_timesteps` (`_timesteps`).
    static func grid(_ s: SchedulerSettings, steps: Int) -> [Int] {
        let train = s.numTrainTimesteps
        let grid: [Int]
        switch s.timestepSpacing {
        case .linspace:
            grid = NumPy.linspace(0, Double(train - 1), steps).map { Int(NumPy.round($0)) }
        case .leading:
            grid = (0..<steps).map { $0 * (train / steps) + s.stepsOffset }
        case .trailing:
            let ratio = Double(train) / Double(steps)
            grid = NumPy.arange(Double(train), 0, -ratio).map { Int(NumPy.round($0)) - 1 }.reversed()
        }
        return grid
    }

    public func sigma(atStep stepIndex: Int) -> Float { schedule.sigma(timestep: integerTimesteps[stepIndex]) }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public func step(_ modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                     state: inout SchedulerState, generator: inout TorchGenerator) throws -> Tensor {
        guard stepIndex >= 0, stepIndex < timesteps.count else {
            throw SchedulerError.stepOutOfRange(stepIndex: stepIndex, stepCount: timesteps.count)
        }
        guard modelOutput.shape == sample.shape else {
            throw SchedulerError.shapeMismatch(expected: sample.shape, got: modelOutput.shape)
        }
        if stepIndex < rungeKuttaSteps {
            return try rungeKuttaStep(modelOutput, stepIndex: stepIndex, sample: sample, state: &state)
        }
        // `counter` in diffusers equals the step index here.
        var t = integerTimesteps[stepIndex]
        var prevT = t - stepRatio
        if stepIndex != 1 {
            state.history = Array(state.history.suffix(3)) + [SchedulerMath.packed(modelOutput)]
        } else {
            prevT = t
            t += stepRatio
        }
        let ets = state.history.map { SchedulerMath.tensor($0, shape: sample.shape) }
        var combined: Tensor
        var base = sample
        switch (ets.count, stepIndex) {
        case (1, 0):
            combined = modelOutput
            state.pendingSample = SchedulerMath.packed(sample)
        case (1, 1):
            combined = try SchedulerMath.map(modelOutput, ets[0]) { m, e in (m + e) / 2 }
            base = SchedulerMath.tensor(state.pendingSample ?? SchedulerMath.packed(sample), shape: sample.shape)
            state.pendingSample = nil
        case (2, _):
            combined = try SchedulerMath.map(ets[1], ets[0]) { e1, e2 in (3 * e1 - e2) / 2 }
        case (3, _):
            combined = try SchedulerMath.map(ets[2], ets[1], ets[0]) { e1, e2, e3 in (23 * e1 - 16 * e2 + 5 * e3) / 12 }
        default:
            let (e1, e2, e3, e4) = (ets[3], ets[2], ets[1], ets[0])
            let sum3 = try SchedulerMath.map(e1, e2, e3) { a, b, c in 55 * a - 59 * b + 37 * c }
            combined = try SchedulerMath.map(sum3, e4) { s, d in Float(1.0 / 24.0) * (s - 9 * d) }
        }
        return try previousSample(base, t: t, prevT: prevT, modelOutput: combined)
    }

    /// PNDM's `_get_prev_sample` (formula (9) of the paper), in float32 as diffusers computes it.
    func previousSample(_ sample: Tensor, t: Int, prevT: Int, modelOutput: Tensor) throws -> Tensor {
        let alphaT = schedule.alphasCumprod[t]
        let alphaPrev = prevT >= 0 ? schedule.alphasCumprod[prevT] : finalAlphaCumprod
        let betaT = 1 - alphaT, betaPrev = 1 - alphaPrev
        var output = modelOutput
        if settings.predictionType == .vPrediction {
            let (a, b) = (alphaT.squareRoot(), betaT.squareRoot())
            output = try SchedulerMath.map(modelOutput, sample) { m, s in a * m + b * s }
        }
        let sampleCoeff = (alphaPrev / alphaT).squareRoot()
        let denominator = alphaT * betaPrev.squareRoot() + (alphaT * betaT * alphaPrev).squareRoot()
        let difference = alphaPrev - alphaT
        return try SchedulerMath.map(sample, output) { s, m in sampleCoeff * s - difference * m / denominator }
    }
}
