import Foundation

extension StableDiffusionPipeline {
    /// Throws `LoRAError.pipelineMismatch` unless this pipeline was built with exactly the LoRAs
    /// (names and weights) that `request`'s prompt names: an image must never silently get
    /// another LoRA set's weights.
    func checkLoRAs(of request: GenerationRequest) throws {
        let requested = try LoRASet.references(for: request)
        let loaded = location.loras?.references ?? []
        guard requested == loaded else {
            throw LoRAError.pipelineMismatch(requested: requested.map(\.tag).joined(separator: " "),
                                             loaded: loaded.map(\.tag).joined(separator: " "))
        }
    }
}
