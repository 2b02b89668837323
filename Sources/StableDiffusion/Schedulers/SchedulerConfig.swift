import Foundation

/// A model's `scheduler/scheduler_config.json`, as written: every key is optional because the
/// file only holds what its author set.
///
/// diffusers resolves a missing key with the defaults of the scheduler class that is finally
/// built, even when the file names another class: `EulerDiscreteScheduler.from_config(pndm.config)`
/// keeps the keys present in the file (`steps_offset`, `clip_sample`, ...) and takes Euler's own
/// default for the rest (`timestep_spacing = "linspace"`). `settings(for:)` mirrors that.
public struct SchedulerConfig: Codable, Sendable, Equatable {
    public var className: String?
    public var numTrainTimesteps: Int?
    public var betaStart: Double?
    public var betaEnd: Double?
    public var betaSchedule: String?
    public var trainedBetas: [Double]?
    public var stepsOffset: Int?
    public var timestepSpacing: String?
    public var setAlphaToOne: Bool?
    public var clipSample: Bool?
    public var clipSampleRange: Double?
    public var predictionType: String?
    public var thresholding: Bool?
    public var skipPrkSteps: Bool?
    public var useKarrasSigmas: Bool?
    public var sigmaMin: Double?
    public var sigmaMax: Double?
    public var interpolationType: String?
    public var timestepType: String?
    public var finalSigmasType: String?
    public var solverOrder: Int?
    public var algorithmType: String?
    public var solverType: String?
    public var lowerOrderFinal: Bool?
    public var eulerAtFinal: Bool?
    public var rescaleBetasZeroSnr: Bool?
    public var useExponentialSigmas: Bool?
    public var useBetaSigmas: Bool?
    public var useLuLambdas: Bool?

    public init() {}

    /// Stable Diffusion v1.5's `scheduler_config.json` (PNDM, scaled-linear betas, offset 1).
    public static let stableDiffusion15: SchedulerConfig = {
        var config = SchedulerConfig()
        config.className = "PNDMScheduler"
        config.numTrainTimesteps = 1000
        config.betaStart = 0.00085
        config.betaEnd = 0.012
        config.betaSchedule = "scaled_linear"
        config.setAlphaToOne = false
        config.skipPrkSteps = true
        config.stepsOffset = 1
        config.clipSample = false
        return config
    }()

    /// Reads a `scheduler_config.json` file.
    public static func load(from url: URL) throws -> SchedulerConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SchedulerError.unreadableConfig(path: url.path, reason: "\(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(SchedulerConfig.self, from: data) } catch {
            throw SchedulerError.unreadableConfig(path: url.path, reason: "\(error)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case className = "_class_name"
        case numTrainTimesteps = "num_train_timesteps"
        case betaStart = "beta_start"
        case betaEnd = "beta_end"
        case betaSchedule = "beta_schedule"
        case trainedBetas = "trained_betas"
        case stepsOffset = "steps_offset"
        case timestepSpacing = "timestep_spacing"
        case setAlphaToOne = "set_alpha_to_one"
        case clipSample = "clip_sample"
        case clipSampleRange = "clip_sample_range"
        case predictionType = "prediction_type"
        case thresholding
        case skipPrkSteps = "skip_prk_steps"
        case useKarrasSigmas = "use_karras_sigmas"
        case sigmaMin = "sigma_min"
        case sigmaMax = "sigma_max"
        case interpolationType = "interpolation_type"
        case timestepType = "timestep_type"
        case finalSigmasType = "final_sigmas_type"
        case solverOrder = "solver_order"
        case algorithmType = "algorithm_type"
        case solverType = "solver_type"
        case lowerOrderFinal = "lower_order_final"
        case eulerAtFinal = "euler_at_final"
        case rescaleBetasZeroSnr = "rescale_betas_zero_snr"
        case useExponentialSigmas = "use_exponential_sigmas"
        case useBetaSigmas = "use_beta_sigmas"
        case useLuLambdas = "use_lu_lambdas"
    }
}
