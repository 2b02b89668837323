import Foundation

extension ModelLocation {
    /// The PNG `parameters` fields AUTOMATIC1111 writes for the weights besides the checkpoint:
    /// `VAE` and `VAE hash` (10 hex digits of the file's SHA-256) for a `--vae`, and `Lora hashes`
    /// (`"name: 12 hex digits, ..."`, the SHA-256 of each file's tensor data) for merged LoRAs.
    /// The LoRAs themselves are in the prompt as `<lora:...>` tags. Reads those files whole:
    /// call once per model, not per image.
    public func weightParameterFields() -> [GenerationParameters.Field] {
        GenerationParameters.weightFields(
            loraHashes: loras.map { loras in zip(loras.references, loras.files).map { ($0.name, $1.shortHash()) } } ?? [],
            vae: externalVAE.map { ($0.name, $0.shortHash()) })
    }
}

extension GenerationParameters {
    /// The weight fields in the order and spelling `generate` and the coordinator both write:
    /// `Lora hashes` (`"name: hash, ..."`, LoRAs sorted by name; commas in names become `_`, as
    /// AUTOMATIC1111 writes them), then `VAE hash` and `VAE`.
    public static func weightFields(loraHashes: [(name: String, hash: String)], vae: (name: String, hash: String)?) -> [Field] {
        var fields: [Field] = []
        if !loraHashes.isEmpty {
            let value = loraHashes.sorted { $0.name < $1.name }
                .map { "\($0.name.replacingOccurrences(of: ",", with: "_")): \($0.hash)" }.joined(separator: ", ")
            fields.append(Field(key: "Lora hashes", value: value))
        }
        if let vae {
            fields.append(Field(key: "VAE hash", value: vae.hash))
            fields.append(Field(key: "VAE", value: vae.name))
        }
        return fields
    }
}
