import Compute
import Foundation

/// diffusers' `DPMSolverMultistepScheduler` with `algorithm_type = "dpmsolver++"`,
/// `solver_type = "midpoint"` and `solver_order` 1, 2 (the default: "DPM++ 2M", optionally with
/// Karras sigmas) or 3. The first steps and the last one (`final_sigmas_type = "zero"`) use
/// lower orders, and below 15 steps the second-to-last too (`lower_order_final`), as diffusers does.
public struct DPMSolverMultistepScheduler: Scheduler {
    public let settings: SchedulerSettings
    public let timesteps: [Float]
    /// Per-step sigmas plus the final one.
    public let sigmas: [Float]
    public let initNoiseSigma: Float = 1

    public init(settings: SchedulerSettings, steps: Int) throws {
        self.settings = settings
        let schedule = NoiseSchedule(settings)
        let trainSigmas = schedule.sigmas
        var times = Self.timesteps(settings, steps: steps).map(Double.init)
        var stepSigmas: [Double]
        if settings.useKarrasSigmas {
            let logSigmas = trainSigmas.map { log($0) }
            stepSigmas = NumPy.karrasSigmas(sigmaMin: settings.sigmaMin ?? Double(trainSigmas[0]),
                                            sigmaMax: settings.sigmaMax ?? Double(trainSigmas[trainSigmas.count - 1]),
                                            count: steps)
            let rounds = settings.betaSchedule != .squaredCosine
            times = stepSigmas.map { let t = NumPy.sigmaToT($0, logSigmas: logSigmas); return rounds ? NumPy.round(t) : t }
        } else {
            stepSigmas = times.map { NumPy.interp($0, trainSigmas) }
        }
        // The model timestep is an int64 in diffusers: truncate as `.to(torch.int64)` does.
        timesteps = times.map { Float(Int64($0)) }
        let last: Float = settings.finalSigmaIsZero ? 0 : trainSigmas[0]
        sigmas = stepSigmas.map { Float($0) } + [last]
    }

    /// `set_timesteps` without Karras sigmas (`lambda_min_clipped = -inf`, so the whole range).
    static func timesteps(_ s: SchedulerSettings, steps: Int) -> [Int] {
        let last = s.numTrainTimesteps
        switch s.timestepSpacing {
        case .linspace:
            return Array(NumPy.linspace(0, Double(last - 1), steps + 1).map { Int(NumPy.round($0)) }.reversed().dropLast())
        case .leading:
            let ratio = last / (steps + 1)
            return Array((0...steps).reversed().map { $0 * ratio }.dropLast()).map { $0 + s.stepsOffset }
        case .trailing:
            let ratio = Double(s.numTrainTimesteps) / Double(steps)
            return NumPy.arange(Double(last), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }
    }

    public func sigma(atStep stepIndex: Int) -> Float { sigmas[stepIndex] }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    /// `_sigma_to_alpha_sigma_t`: the VP-form (alpha_t, sigma_t) of a VE sigma.
    static func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    public func step(_ modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                     state: inout SchedulerState, generator: inout TorchGenerator) throws -> Tensor {
        let count = timesteps.count
        guard stepIndex >= 0, stepIndex < count else {
            throw SchedulerError.stepOutOfRange(stepIndex: stepIndex, stepCount: count)
        }
        let lowerOrderFinal = stepIndex == count - 1
            && (settings.eulerAtFinal || (settings.lowerOrderFinal && count < 15) || settings.finalSigmaIsZero)
        let lowerOrderSecond = stepIndex == count - 2 && settings.lowerOrderFinal && count < 15
        let x0 = try dataPrediction(modelOutput, sample: sample, stepIndex: stepIndex)
        state.history = Array((state.history + [SchedulerMath.packed(x0)]).suffix(settings.solverOrder))
        let history = state.history
        let previous = { (back: Int) in SchedulerMath.tensor(history[history.count - 1 - back], shape: sample.shape) }
        let next: Tensor
        if settings.solverOrder == 1 || state.lowerOrderCount < 1 || lowerOrderFinal {
            next = try firstOrderUpdate(x0, sample: sample, stepIndex: stepIndex)
        } else if settings.solverOrder == 2 || state.lowerOrderCount < 2 || lowerOrderSecond {
            next = try secondOrderUpdate(x0, previous(1), sample: sample, stepIndex: stepIndex)
        } else {
            next = try thirdOrderUpdate(x0, previous(1), previous(2), sample: sample, stepIndex: stepIndex)
        }
        if state.lowerOrderCount < settings.solverOrder { state.lowerOrderCount += 1 }
        return next
    }

    /// `convert_model_output` for dpmsolver++: the predicted clean sample.
    func dataPrediction(_ modelOutput: Tensor, sample: Tensor, stepIndex: Int) throws -> Tensor {
        let (alphaT, sigmaT) = Self.alphaSigma(sigmas[stepIndex])
        switch settings.predictionType {
        case .epsilon:
            return try SchedulerMath.map(sample, modelOutput) { s, m in (s - sigmaT * m) / alphaT }
        case .vPrediction:
            return try SchedulerMath.map(sample, modelOutput) { s, m in alphaT * s - sigmaT * m }
        }
    }

    func firstOrderUpdate(_ x0: Tensor, sample: Tensor, stepIndex: Int) throws -> Tensor {
        let (alphaT, sigmaT) = Self.alphaSigma(sigmas[stepIndex + 1])
        let (alphaS, sigmaS) = Self.alphaSigma(sigmas[stepIndex])
        let h = (log(alphaT) - log(sigmaT)) - (log(alphaS) - log(sigmaS))
        let c1 = sigmaT / sigmaS, c2 = alphaT * (exp(-h) - 1)
        return try SchedulerMath.map(sample, x0) { s, m in c1 * s - c2 * m }
    }

    func secondOrderUpdate(_ m0: Tensor, _ m1: Tensor, sample: Tensor, stepIndex: Int) throws -> Tensor {
        let (alphaT, sigmaT) = Self.alphaSigma(sigmas[stepIndex + 1])
        let (alphaS0, sigmaS0) = Self.alphaSigma(sigmas[stepIndex])
        let (alphaS1, sigmaS1) = Self.alphaSigma(sigmas[stepIndex - 1])
        let lambdaT = log(alphaT) - log(sigmaT)
        let lambdaS0 = log(alphaS0) - log(sigmaS0)
        let lambdaS1 = log(alphaS1) - log(sigmaS1)
        let h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1
        let inverseR0 = 1 / (h0 / h)
        let c1 = sigmaT / sigmaS0, c2 = alphaT * (exp(-h) - 1), c3 = 0.5 * (alphaT * (exp(-h) - 1))
        let d1 = try SchedulerMath.map(m0, m1) { a, b in inverseR0 * (a - b) }
        return try SchedulerMath.map(sample, m0, d1) { s, d0, d1 in c1 * s - c2 * d0 - c3 * d1 }
    }

    /// `multistep_dpm_solver_third_order_update` for dpmsolver++.
    func thirdOrderUpdate(_ m0: Tensor, _ m1: Tensor, _ m2: Tensor, sample: Tensor, stepIndex: Int) throws -> Tensor {
        let lambda = { (sigma: Float) -> (alpha: Float, sigma: Float, lambda: Float) in
            let (a, s) = Self.alphaSigma(sigma)
            return (a, s, log(a) - log(s))
        }
        let t = lambda(sigmas[stepIndex + 1]), s0 = lambda(sigmas[stepIndex])
        let s1 = lambda(sigmas[stepIndex - 1]), s2 = lambda(sigmas[stepIndex - 2])
        let h = t.lambda - s0.lambda, h0 = s0.lambda - s1.lambda, h1 = s1.lambda - s2.lambda
        let r0 = h0 / h, r1 = h1 / h
        let (inverseR0, inverseR1) = (1 / r0, 1 / r1)
        let d10 = try SchedulerMath.map(m0, m1) { a, b in inverseR0 * (a - b) }
        let d11 = try SchedulerMath.map(m1, m2) { a, b in inverseR1 * (a - b) }
        let (w1, w2) = (r0 / (r0 + r1), 1 / (r0 + r1))
        let d1 = try SchedulerMath.map(d10, d11) { a, b in a + w1 * (a - b) }
        let d2 = try SchedulerMath.map(d10, d11) { a, b in w2 * (a - b) }
        let e = exp(-h) - 1
        let c1 = t.sigma / s0.sigma, c2 = t.alpha * e, c3 = t.alpha * (e / h + 1), c4 = t.alpha * ((e + h) / (h * h) - 0.5)
        let partial = try SchedulerMath.map(sample, m0, d1) { s, d0, d1 in c1 * s - c2 * d0 + c3 * d1 }
        return try SchedulerMath.map(partial, d2) { p, d2 in p - c4 * d2 }
    }
}
