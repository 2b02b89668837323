import Foundation

/// How the cluster names a model with LoRAs merged: the model's name, a space, then the set's
/// tags sorted by name (`shapes <lora:a:0.5> <lora:b:1.0>`). Tasks carry this name as their
/// model, so a worker builds (or reuses) the right pipeline and one UNet batch never mixes sets.
public enum LoRAVariant {
    /// `model` alone for an empty set.
    public static func name(model: String, loras: [LoRAReference]) -> String {
        loras.isEmpty ? model : model + " " + loras.sorted { $0.name < $1.name }.map(\.tag).joined(separator: " ")
    }

    /// The model name and LoRAs of a variant name; a name without tags is the model alone.
    /// Throws `LoRAError` for malformed tags.
    public static func parse(_ variant: String) throws -> (model: String, loras: [LoRAReference]) {
        guard let range = variant.range(of: " <lora:") else { return (variant, []) }
        let loras = try LoRATags.references(in: String(variant[range.lowerBound...]))
        return (String(variant[..<range.lowerBound]), loras.sorted { $0.name < $1.name })
    }

    /// A content hash for the model with these LoRAs (each with its file's content hash): what
    /// keys the cluster's shared embeddings, since the LoRAs change the text encoder.
    public static func contentHash(modelHash: String, loras: [(reference: LoRAReference, fileHash: String)]) -> String {
        var hash = ModelContentHash()
        hash.add("\(modelHash)|lora")
        for (reference, fileHash) in loras.sorted(by: { $0.reference.name < $1.reference.name }) {
            hash.add("|\(reference.name)|\(fileHash)|\(reference.textEncoderWeight.bitPattern)|\(reference.unetWeight.bitPattern)")
        }
        return hash.hex
    }
}
