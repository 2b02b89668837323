/// Why a request could not be prepared or a step could not advance.
public enum SamplingError: Error, Equatable, CustomStringConvertible {
    case invalidSize(width: Int, height: Int, factor: Int)
    case invalidSteps(Int)
    case invalidGuidanceScale(Float)
    case invalidGuidanceCutoff(Float)
    case invalidGuidanceInterval(low: Float, high: Float)
    case invalidAdaptiveThreshold(Float)
    case invalidModelInfo(String)
    case alreadyFinished(steps: Int)
    case missingPrediction(TextSlot, step: Int)
    case unexpectedPrediction(TextSlot, step: Int)
    case predictionShape(TextSlot, expected: [Int], got: [Int])
    case nonFinitePrediction(TextSlot, step: Int)
    case evaluatorReturned(expected: Int, got: Int)
    case missingTextEmbedding(TextSlot)
    case cancelled(afterStep: Int)
    case scheduler(SchedulerError)

    public var description: String {
        switch self {
        case let .invalidSize(w, h, f):
            return "size \(w)x\(h) is not possible: width and height must be positive multiples of \(f) (the VAE's downscale factor)"
        case let .invalidSteps(n):
            return "steps = \(n) is not possible: use at least 1"
        case let .invalidGuidanceScale(w):
            return "guidance_scale = \(w) is not a finite number"
        case let .invalidGuidanceCutoff(c):
            return "guidance_cutoff = \(c) is outside [0, 1]: 1 guides every step, 0 none"
        case let .invalidGuidanceInterval(low, high):
            return "guidance_interval (\(low), \(high)] is empty or negative: give 0 <= sigma_low < sigma_high"
        case let .invalidAdaptiveThreshold(t):
            return "adaptive_guidance_threshold = \(t) is outside (0, 1]; typical values are 0.99 to 0.9999"
        case let .invalidModelInfo(what):
            return "invalid model information: \(what)"
        case let .alreadyFinished(steps):
            return "the image already ran all \(steps) steps; take its final latents instead of advancing it"
        case let .missingPrediction(slot, step):
            return "step \(step) needs the \(slot.rawValue) prediction but it was not given"
        case let .unexpectedPrediction(slot, step):
            return "step \(step) did not ask for a \(slot.rawValue) prediction; pass exactly the pending evaluations"
        case let .predictionShape(slot, expected, got):
            return "the \(slot.rawValue) prediction has shape \(got), expected \(expected) (NCHW, like the latents)"
        case let .nonFinitePrediction(slot, step):
            return "the \(slot.rawValue) prediction of step \(step) contains NaN or infinity; the model or its inputs are broken"
        case let .evaluatorReturned(expected, got):
            return "the UNet evaluator returned \(got) predictions for \(expected) evaluations"
        case let .missingTextEmbedding(slot):
            return "no \(slot.rawValue) text embedding was given but the plan needs that pass"
        case let .cancelled(step):
            return "sampling was cancelled after step \(step)"
        case let .scheduler(error):
            return error.description
        }
    }
}
