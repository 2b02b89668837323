import Compute

/// A diffusion scheduler, as in diffusers, split into an immutable part (this value, rebuilt at
/// will from the configuration and the step count) and the per-image state it carries between
/// steps (`SchedulerState`, Codable, so an image can be persisted and resumed mid-run).
///
/// Step `i` evaluates the model at `timesteps[i]` on `scaleModelInput(sample, stepIndex: i)`,
/// then `step(...)` turns the (guided) prediction into the next sample.
public protocol Scheduler: Sendable {
    /// The model timestep of each step, in order (as diffusers' `scheduler.timesteps`).
    var timesteps: [Float] { get }
    /// What the seeded noise is multiplied by to make the first sample.
    var initNoiseSigma: Float { get }
    /// The noise level (sigma, in the variance-exploding sense) of step `stepIndex`.
    func sigma(atStep stepIndex: Int) -> Float
    /// The model input for step `stepIndex` (identity for DDIM, PNDM, DPM-Solver).
    func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor
    /// The sample after step `stepIndex`. Ancestral schedulers draw their noise from `generator`.
    func step(_ modelOutput: Tensor, stepIndex: Int, sample: Tensor,
              state: inout SchedulerState, generator: inout TorchGenerator) throws -> Tensor
}

extension Scheduler {
    /// Number of steps (model evaluations per text) this scheduler runs.
    public var stepCount: Int { timesteps.count }
}

/// What a multistep scheduler remembers between steps: PNDM's previous model outputs (`ets`)
/// and the sample it restarts from, DPM-Solver's previous data predictions.
public struct SchedulerState: Codable, Sendable, Equatable {
    /// Previous model outputs, oldest first (PNDM: up to 4; DPM-Solver: `solver_order`).
    public var history: [PackedFloats] = []
    /// PNDM's `cur_sample`: the sample its second step restarts from.
    public var pendingSample: PackedFloats?
    /// DPM-Solver's `lower_order_nums`: how many steps ran so far, capped at the order.
    public var lowerOrderCount = 0
    /// PNDM's Runge-Kutta running sum (`cur_model_output`) within one group of four steps.
    public var rungeKuttaSum: PackedFloats?

    public init() {}
}

/// Why a scheduler could not be built or stepped.
public enum SchedulerError: Error, Equatable, CustomStringConvertible {
    case unreadableConfig(path: String, reason: String)
    case unsupported(String)
    case invalidStepCount(steps: Int, trainTimesteps: Int)
    case stepOutOfRange(stepIndex: Int, stepCount: Int)
    case shapeMismatch(expected: [Int], got: [Int])

    public var description: String {
        switch self {
        case let .unreadableConfig(path, reason):
            return "cannot read scheduler config \(path): \(reason); check that it is diffusers' scheduler_config.json"
        case let .unsupported(what):
            return "unsupported scheduler setting: \(what)"
        case let .invalidStepCount(steps, train):
            return "\(steps) inference steps is not possible: use between 1 and \(train) (num_train_timesteps)"
        case let .stepOutOfRange(index, count):
            return "step index \(index) is outside 0..<\(count); the image is already finished or the state is corrupt"
        case let .shapeMismatch(expected, got):
            return "model output has shape \(got) but the sample has shape \(expected)"
        }
    }
}

/// Builds schedulers by kind.
public enum Schedulers {
    /// The scheduler `kind` for `steps` inference steps, configured as diffusers'
    /// `<Class>.from_config(config)` would be.
    public static func make(_ kind: SchedulerKind, config: SchedulerConfig, steps: Int) throws -> any Scheduler {
        let settings = try config.settings(for: kind)
        guard steps >= 1, steps <= settings.numTrainTimesteps else {
            throw SchedulerError.invalidStepCount(steps: steps, trainTimesteps: settings.numTrainTimesteps)
        }
        if kind == .pndm, !settings.skipPrkSteps, steps < 4 {
            throw SchedulerError.unsupported("PNDM's Runge-Kutta warm-up (skip_prk_steps = false) needs at least 4 steps, not \(steps)")
        }
        switch kind {
        case .ddim: return DDIMScheduler(settings: settings, steps: steps)
        case .pndm: return PNDMScheduler(settings: settings, steps: steps)
        case .euler: return try EulerDiscreteScheduler(settings: settings, steps: steps)
        case .eulerAncestral: return try EulerAncestralDiscreteScheduler(settings: settings, steps: steps)
        case .dpmpp2m, .dpmpp2mKarras: return try DPMSolverMultistepScheduler(settings: settings, steps: steps)
        }
    }
}

/// Element-wise arithmetic on equally shaped tensors (named apart from `Compute.SchedulerMath`), for the schedulers' update rules.
enum SchedulerMath {
    static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        for i in 0..<a.count { out.pointer[i] = f(a.pointer[i]) }
        return out
    }

    static func map(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) throws -> Tensor {
        guard a.shape == b.shape else { throw SchedulerError.shapeMismatch(expected: b.shape, got: a.shape) }
        let out = Tensor(uninitialized: a.shape)
        for i in 0..<a.count { out.pointer[i] = f(a.pointer[i], b.pointer[i]) }
        return out
    }

    static func map(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) throws -> Tensor {
        guard a.shape == b.shape, a.shape == c.shape else { throw SchedulerError.shapeMismatch(expected: b.shape, got: a.shape) }
        let out = Tensor(uninitialized: a.shape)
        for i in 0..<a.count { out.pointer[i] = f(a.pointer[i], b.pointer[i], c.pointer[i]) }
        return out
    }

    static func packed(_ t: Tensor) -> PackedFloats { PackedFloats(t.values) }

    static func tensor(_ p: PackedFloats, shape: [Int]) -> Tensor { Tensor(shape: shape, values: p.values) }
}
