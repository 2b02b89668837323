import Foundation

/// Inference timesteps and sigmas for the sigma-based schedulers (Euler, Euler ancestral),
/// as their `set_timesteps` computes them.
struct SigmaSchedule {
    let timesteps: [Float]
    /// One per step plus the final sigma (0 unless `final_sigmas_type = "sigma_min"`).
    let sigmas: [Float]

    /// `EulerDiscreteScheduler.set_timesteps` (also Euler ancestral's, which has no Karras or
    /// final-sigma options: pass `allowKarras: false`).
    init(_ s: SchedulerSettings, schedule: NoiseSchedule, steps: Int, allowKarras: Bool) {
        let train = s.numTrainTimesteps
        var times: [Double]
        switch s.timestepSpacing {
        case .linspace:
            times = NumPy.linspace(0, Double(train - 1), steps).reversed().map { Double(Float($0)) }
        case .leading:
            let ratio = train / steps
            times = (0..<steps).reversed().map { Double(Float($0 * ratio) + Float(s.stepsOffset)) }
        case .trailing:
            let ratio = Double(train) / Double(steps)
            times = NumPy.arange(Double(train), 0, -ratio).map { Double(Float(NumPy.round($0)) - 1) }
        }
        let trainSigmas = schedule.sigmas
        var sigmas = times.map { NumPy.interp($0, trainSigmas) }
        if allowKarras && s.useKarrasSigmas {
            let logSigmas = trainSigmas.map { log($0) }
            sigmas = NumPy.karrasSigmas(sigmaMin: s.sigmaMin ?? sigmas[sigmas.count - 1],
                                        sigmaMax: s.sigmaMax ?? sigmas[0], count: steps)
            times = sigmas.map { NumPy.sigmaToT($0, logSigmas: logSigmas) }
        }
        let last: Float = (allowKarras && !s.finalSigmaIsZero) ? trainSigmas[0] : 0
        timesteps = times.map { Float($0) }
        self.sigmas = sigmas.map { Float($0) } + [last]
    }

    /// diffusers' `init_noise_sigma` for Euler-type schedulers.
    func initNoiseSigma(_ spacing: TimestepSpacing) -> Float {
        let maxSigma = sigmas.max() ?? 0
        return spacing == .leading ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
    }
}
