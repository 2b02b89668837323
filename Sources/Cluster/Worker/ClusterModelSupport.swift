import StableDiffusion

/// A model `generate` runs but the cluster cannot yet: said when a worker starts, not when its
/// first task fails.
public struct UnsupportedClusterModelError: Error, CustomStringConvertible, Equatable {
    public let model: String
    public let family: String
    public var description: String {
        "\(model) is an \(family) model: sdcluster runs \(family) in `generate` only for now. The cluster's wire "
            + "protocol carries one text embedding per text, and SDXL's UNet also needs the pooled text embedding "
            + "and the time ids (docs/weights.md, \"SDXL\"). Use `sdcluster generate --model` for this model, "
            + "or start the worker with an SD 1.x / 2.x model."
    }
}

extension PipelineEngine {
    /// Throws `UnsupportedClusterModelError` for a pipeline whose UNet needs more than the
    /// protocol carries (SDXL). `worker` calls it before it connects.
    public static func checkClusterSupport(_ pipeline: StableDiffusionPipeline) throws {
        if pipeline.sdxlText != nil || pipeline.unet.needsAddedConditioning {
            throw UnsupportedClusterModelError(model: pipeline.location.name, family: pipeline.location.family.rawValue)
        }
    }
}
