import Compute
import StableDiffusion

/// What a worker computes with: the text encoder, the UNet and the VAE decoder of the models it
/// hosts. Called only from the worker's compute thread, one call at a time.
public protocol WorkerEngine: AnyObject {
    /// The models this engine can run, with what the coordinator needs to sample them.
    var models: [HostedModel] { get }
    /// The engine fingerprint READY reports (nil for engines that compute nothing real).
    var fingerprint: String? { get }
    /// The LoRAs it can merge into its models (none by default).
    var loras: [HostedLoRA] { get }
    /// The conditioning of one text read for `slot` with `encoding`: its embedding
    /// `[1, tokens, width]` (tokens = 77 k for A1111-style long prompts) and, for SDXL, its
    /// pooled embedding.
    func encode(text: String, slot: TextSlot, model: String?, encoding: TextEncoding) throws -> TextConditioning
    /// One UNet call over a batch: per item its latent `[1, C, h, w]`, timestep and text
    /// conditioning, and SDXL's time ids per item (nil for other families). Returns one
    /// prediction per item, shaped like its latent.
    func unet(latents: [Tensor], timesteps: [Float], conditionings: [TextConditioning], timeIds: [[Float]]?,
              model: String?) throws -> [Tensor]
    /// Decodes final latents `[1, C, h, w]` (before the VAE scaling) to 8-bit RGB, exactly as the
    /// local pipeline does (`StableDiffusionPipeline.decodeToPixels`).
    func decode(latents: Tensor, model: String?) throws -> RGBPixels
}

extension WorkerEngine {
    public var fingerprint: String? { nil }
    public var loras: [HostedLoRA] { [] }
}

/// Why a worker could not run a task. The message goes back to the coordinator in ERROR.
public enum WorkerEngineError: Error, Equatable, CustomStringConvertible {
    case unknownModel(asked: String, hosted: [String])
    case shapeMismatch(String)

    public var description: String {
        switch self {
        case .unknownModel(let asked, let hosted):
            return "this worker does not host model '\(asked)' (it hosts \(hosted.joined(separator: ", "))); start a worker with --model pointing at it"
        case .shapeMismatch(let what):
            return "task does not fit the model: \(what)"
        }
    }
}

extension WorkerEngine {
    /// Refuses a task for a model this engine does not host (nil means the engine's own model).
    func requireModel(_ model: String?) throws {
        guard let model else { return }
        let names = models.map(\.name)
        guard names.contains(model) else { throw WorkerEngineError.unknownModel(asked: model, hosted: names) }
    }
}
