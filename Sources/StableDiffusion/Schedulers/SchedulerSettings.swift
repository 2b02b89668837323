/// How training noise levels were laid out (`beta_schedule`).
public enum BetaSchedule: String, Codable, Sendable {
    case linear
    case scaledLinear = "scaled_linear"
    case squaredCosine = "squaredcos_cap_v2"
}

/// How inference timesteps are picked from the training range (`timestep_spacing`).
public enum TimestepSpacing: String, Codable, Sendable {
    case leading, trailing, linspace
}

/// What the UNet predicts (`prediction_type`).
public enum PredictionType: String, Codable, Sendable {
    case epsilon
    case vPrediction = "v_prediction"
}

/// One scheduler's configuration with every value resolved: the file's keys where present,
/// else that scheduler class's defaults in diffusers 0.42.1.
public struct SchedulerSettings: Sendable, Equatable {
    public var numTrainTimesteps: Int
    public var betaStart: Double
    public var betaEnd: Double
    public var betaSchedule: BetaSchedule
    public var trainedBetas: [Double]?
    public var stepsOffset: Int
    public var timestepSpacing: TimestepSpacing
    public var setAlphaToOne: Bool
    public var clipSample: Bool
    public var clipSampleRange: Double
    public var predictionType: PredictionType
    public var useKarrasSigmas: Bool
    /// PNDM: start with PLMS directly (true) or with Runge-Kutta steps (false, the class default).
    public var skipPrkSteps: Bool
    public var sigmaMin: Double?
    public var sigmaMax: Double?
    public var solverOrder: Int
    public var lowerOrderFinal: Bool
    public var eulerAtFinal: Bool
    /// `final_sigmas_type == "zero"` (the default); false means `"sigma_min"`.
    public var finalSigmaIsZero: Bool
    /// `rescale_betas_zero_snr` (Lin et al. 2024): betas rescaled so the last timestep is pure
    /// noise. diffusers' DDIM, Euler, Euler a and DPM-Solver read it; PNDM has no such option
    /// and ignores the key, as here.
    public var rescaleBetasZeroSnr: Bool = false
    /// The sigma-based schedulers (Euler, Euler a, DPM-Solver) then set the last `alphas_cumprod`
    /// to 2^-24 instead of 0, so that its sigma is large but finite; DDIM keeps the 0.
    public var floorsTerminalAlpha: Bool = false
}

extension SchedulerConfig {
    /// The settings diffusers would use for `kind` built with `.from_config` from this file
    /// (`dpmpp-2m-karras` adds `use_karras_sigmas=True`, as users write it).
    /// Options sdcluster does not implement are refused with a message naming the key.
    public func settings(for kind: SchedulerKind) throws -> SchedulerSettings {
        try refuseUnsupported(for: kind)
        let classDefaultSpacing: TimestepSpacing = (kind == .ddim || kind == .pndm) ? .leading : .linspace
        let settings = SchedulerSettings(
            numTrainTimesteps: numTrainTimesteps ?? 1000,
            betaStart: betaStart ?? 0.0001,
            betaEnd: betaEnd ?? 0.02,
            betaSchedule: try parse(betaSchedule, key: "beta_schedule", default: .linear),
            trainedBetas: trainedBetas,
            stepsOffset: stepsOffset ?? 0,
            timestepSpacing: try parse(timestepSpacing, key: "timestep_spacing", default: classDefaultSpacing),
            // DDIM's default is true, PNDM's false; only those two read it.
            setAlphaToOne: setAlphaToOne ?? (kind == .ddim),
            clipSample: kind == .ddim ? (clipSample ?? true) : false,
            clipSampleRange: clipSampleRange ?? 1,
            predictionType: try parse(predictionType, key: "prediction_type", default: .epsilon),
            useKarrasSigmas: kind == .dpmpp2mKarras ? true : (useKarrasSigmas ?? false),
            skipPrkSteps: skipPrkSteps ?? false,
            sigmaMin: sigmaMin,
            sigmaMax: sigmaMax,
            solverOrder: solverOrder ?? 2,
            lowerOrderFinal: lowerOrderFinal ?? true,
            eulerAtFinal: eulerAtFinal ?? false,
            finalSigmaIsZero: (finalSigmasType ?? "zero") == "zero",
            rescaleBetasZeroSnr: kind != .pndm && rescaleBetasZeroSnr == true,
            floorsTerminalAlpha: kind != .pndm && kind != .ddim && rescaleBetasZeroSnr == true)
        if settings.numTrainTimesteps < 2 {
            throw SchedulerError.unsupported("num_train_timesteps must be at least 2, not \(settings.numTrainTimesteps)")
        }
        if let betas = trainedBetas, betas.count != settings.numTrainTimesteps {
            throw SchedulerError.unsupported("trained_betas has \(betas.count) values but num_train_timesteps is \(settings.numTrainTimesteps)")
        }
        return settings
    }

    private func parse<T: RawRepresentable>(_ raw: String?, key: String, default value: T) throws -> T where T.RawValue == String {
        guard let raw else { return value }
        guard let parsed = T(rawValue: raw) else {
            throw SchedulerError.unsupported("\(key) \"\(raw)\" is not implemented; use one of the diffusers values sdcluster supports")
        }
        return parsed
    }

    private func refuseUnsupported(for kind: SchedulerKind) throws {
        let flags: [(Bool?, String)] = [
            (thresholding, "thresholding"),
            (useExponentialSigmas, "use_exponential_sigmas"), (useBetaSigmas, "use_beta_sigmas"),
            (useLuLambdas, "use_lu_lambdas"),
        ]
        for (flag, key) in flags where flag == true {
            throw SchedulerError.unsupported("\(key) = true is not implemented; set it to false in scheduler_config.json")
        }
        if kind == .euler || kind == .eulerAncestral {
            if let t = interpolationType, t != "linear" { throw SchedulerError.unsupported("interpolation_type \"\(t)\" is not implemented; use \"linear\"") }
            if let t = timestepType, t != "discrete" { throw SchedulerError.unsupported("timestep_type \"\(t)\" is not implemented; use \"discrete\"") }
        }
        if kind == .dpmpp2m || kind == .dpmpp2mKarras {
            if let a = algorithmType, a != "dpmsolver++" { throw SchedulerError.unsupported("algorithm_type \"\(a)\" is not implemented; use \"dpmsolver++\"") }
            if let s = solverType, s != "midpoint" { throw SchedulerError.unsupported("solver_type \"\(s)\" is not implemented; use \"midpoint\"") }
            if let o = solverOrder, !(1...3).contains(o) { throw SchedulerError.unsupported("solver_order \(o) is not implemented; use 1, 2 or 3") }
        }
        if let f = finalSigmasType, f != "zero", f != "sigma_min" {
            throw SchedulerError.unsupported("final_sigmas_type \"\(f)\" is not one of \"zero\", \"sigma_min\"")
        }
    }
}
