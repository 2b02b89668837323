import Compute
import Foundation
import StableDiffusion

/// A stand-in engine for measuring the coordinator: a UNet call sleeps `unetSeconds` per
/// evaluation in it (a CPU's time grows about linearly with the batch) and predicts zeros; text and VAE calls return zeros at once. It hosts one model, `simulated`,
/// with SD v1's latent layout and scheduler, so the coordinator samples it like a real one.
public final class SimulatedEngine: WorkerEngine {
    public static let modelName = "simulated"
    /// The width of the (zero) text embeddings it returns: small, since nothing reads them.
    static let embeddingShape = [1, 77, 8]

    public let unetSeconds: Double
    public let models: [HostedModel]

    public init(unetSeconds: Double) {
        self.unetSeconds = unetSeconds
        // 128 px by default (the shipped model's size), so measurements stay comparable between runs.
        let info = SamplingModelInfo(latentChannels: 4, vaeScaleFactor: 8, schedulerConfig: .stableDiffusion15,
                                     nativeWidth: 128, nativeHeight: 128)
        models = [HostedModel(name: Self.modelName, contentHash: "simulated-v1", info: info)]
    }

    public func encode(text: String, slot: TextSlot, model: String?, encoding: TextEncoding) throws -> TextConditioning {
        try requireModel(model)
        return TextConditioning(context: Tensor(zeros: Self.embeddingShape))
    }

    public func unet(latents: [Tensor], timesteps: [Float], conditionings: [TextConditioning], timeIds: [[Float]]?,
                     model: String?) throws -> [Tensor] {
        try requireModel(model)
        if unetSeconds > 0 { Thread.sleep(forTimeInterval: unetSeconds * Double(latents.count)) }
        return latents.map { Tensor(zeros: $0.shape) }
    }

    public func decode(latents: Tensor, model: String?) throws -> RGBPixels {
        try requireModel(model)
        guard latents.shape.count == 4 else { throw WorkerEngineError.shapeMismatch("latent \(latents.shape) for the VAE") }
        return RGBPixels(decoded: Tensor(zeros: [1, 3, latents.shape[2] * 8, latents.shape[3] * 8]))
    }
}
