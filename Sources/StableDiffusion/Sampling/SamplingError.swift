/// Why a model could not be sampled or a step could not advance. A request's own problems are
/// `InvalidRequest` (`GenerationRequest.validated(for:)`).
public enum SamplingError: Error, Equatable, CustomStringConvertible {
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
