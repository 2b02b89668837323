import Foundation

/// The LoRAs of one image, with their weights, checked against one model and ready to merge.
///
/// Every layer of every file is matched to a weight of the model and its factors' shapes are
/// checked when the set is resolved, so a wrong LoRA fails before any image is started. The
/// merge itself (`W + weight * (alpha / rank) * up @ down`, alpha / rank = 1 without alpha, the
/// rule of kohya's scripts, AUTOMATIC1111 and diffusers) happens when the model is built from
/// `ModelLocation.applyingLoRAs`, weight by weight, before the weights are packed.
public struct LoRASet: Sendable {
    /// Sorted by name: the merge order, and so the bits, do not depend on the order written.
    public let references: [LoRAReference]
    public let files: [LoRAFile]
    let unetUpdates: [String: [WeightUpdate]]
    let textEncoderUpdates: [String: [WeightUpdate]]

    public var isEmpty: Bool { references.isEmpty }

    /// The LoRAs an image asks for: the `<lora:...>` tags of its prompt (JSONL `loras` entries are
    /// written there as tags), sorted by name. Throws `LoRAError` for a bad tag or a name used twice.
    public static func references(for request: GenerationRequest) throws -> [LoRAReference] {
        let found = try LoRATags.references(in: request.prompt)
        var seen: Set<String> = []
        for reference in found where !seen.insert(reference.name).inserted { throw LoRAError.namedTwice(name: reference.name) }
        return found.sorted { $0.name < $1.name }
    }

    /// Opens the named LoRAs from `library` and matches each layer to `model`'s weights.
    public static func resolve(_ references: [LoRAReference], library: LoRALibrary, model: ModelLocation) throws -> LoRASet {
        let sorted = references.sorted { $0.name < $1.name }
        let targets: [LoRAComponent: LoRATargets] = [
            .unet: LoRATargets(store: model.unet.weights, compVisMap: CompVisKeyMap.unet(model.unet.config)),
            .textEncoder: LoRATargets(store: model.textEncoder.weights),
        ]
        var updates: [LoRAComponent: [String: [WeightUpdate]]] = [.unet: [:], .textEncoder: [:]]
        var files: [LoRAFile] = []
        for reference in sorted {
            let file = try library.file(named: reference.name)
            files.append(file)
            for layer in file.layers {
                let target = targets[layer.component]!
                guard let weightName = target.weightName(for: layer, layout: file.layout) else {
                    throw LoRAError.noSuchLayer(file: file.path, key: layer.fileName, component: layer.component)
                }
                let shape = target.store.shape(of: weightName) ?? []
                let weight = layer.component == .unet ? reference.unetWeight : reference.textEncoderWeight
                let update = WeightUpdate(up: layer.up, down: layer.down, scale: 1, origin: "\(file.path): \(layer.fileName)")
                guard let rank = update.rank, update.fits(shape) else {
                    throw LoRAError.wrongShape(file: file.path, key: layer.fileName, target: weightName,
                                               detail: "up \(layer.up.shape) x down \(layer.down.shape) for a weight of shape \(shape)")
                }
                let scale = weight * layer.scale(rank: rank)
                updates[layer.component]![weightName, default: []].append(
                    WeightUpdate(up: layer.up, down: layer.down, scale: scale, origin: update.origin))
            }
        }
        return LoRASet(references: sorted, files: files, unetUpdates: updates[.unet]!, textEncoderUpdates: updates[.textEncoder]!)
    }

    /// 16 hex digits over the files' content hashes and the weights: part of the identity of a
    /// model with these LoRAs merged.
    public var contentHash: String {
        var hash = ModelContentHash()
        for (reference, file) in zip(references, files) {
            hash.add("\(reference.name)|\(file.contentHash)|\(reference.textEncoderWeight.bitPattern)|\(reference.unetWeight.bitPattern);")
        }
        return hash.hex
    }

    /// AUTOMATIC1111's `Lora hashes` value: `name: hash, name: hash` (12-digit data SHA-256 each).
    /// Reads every file once.
    public func parameterHashes() -> String {
        GenerationParameters.weightFields(loraHashes: zip(references, files).map { ($0.name, $1.shortHash()) }, vae: nil)
            .first?.value ?? ""
    }
}

extension ModelLocation {
    /// This model with `loras` merged into its UNet and text encoder as they are built. The
    /// content hash covers the LoRAs, so embeddings, caches and cluster nodes keep sets apart.
    public func applyingLoRAs(_ loras: LoRASet) -> ModelLocation {
        guard !loras.isEmpty else { return self }
        var hash = ModelContentHash()
        hash.add("\(contentHash)|lora|\(loras.contentHash)")
        let label = loras.references.map(\.tag).joined()
        var result = ModelLocation(
            layout: layout, family: family,
            unet: ModelComponent(config: unet.config, weights: WeightStore(
                base: unet.weights, updates: loras.unetUpdates, source: "\(unet.weights.source) with \(label)")),
            textEncoder: ModelComponent(config: textEncoder.config, weights: WeightStore(
                base: textEncoder.weights, updates: loras.textEncoderUpdates, source: "\(textEncoder.weights.source) with \(label)")),
            vae: vae, tokenizerDirectory: tokenizerDirectory, tokenizerPadToken: tokenizerPadToken,
            schedulerConfigData: schedulerConfigData,
            recommendations: recommendations, name: name, contentHash: hash.hex, skippedKeys: skippedKeys)
        result.externalVAE = externalVAE
        result.loras = loras
        result.copySDXLParts(from: self)
        return result
    }
}
