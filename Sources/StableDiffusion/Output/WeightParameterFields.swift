import Foundation

extension ModelLocation {
    /// The PNG `parameters` fields AUTOMATIC1111 writes for the weights besides the checkpoint:
    /// `VAE` and `VAE hash` (10 hex digits of the file's SHA-256) for a `--vae`, and `Lora hashes`
    /// (`"name: 12 hex digits, ..."`, the SHA-256 of each file's tensor data) for merged LoRAs.
    /// The LoRAs themselves are in the prompt as `<lora:...>` tags. Reads those files whole:
    /// call once per model, not per image.
    public func weightParameterFields() -> [GenerationParameters.Field] {
        var fields: [GenerationParameters.Field] = []
        if let loras, !loras.isEmpty { fields.append(.init(key: "Lora hashes", value: loras.parameterHashes())) }
        if let externalVAE {
            fields.append(.init(key: "VAE hash", value: externalVAE.shortHash()))
            fields.append(.init(key: "VAE", value: externalVAE.name))
        }
        return fields
    }
}
