import Foundation

/// A VAE given apart from the model (`--vae FILE|DIR`), which replaces the model's own.
///
/// Three layouts are read:
/// - a diffusers VAE folder (`config.json` + `diffusion_pytorch_model.safetensors`), whose own
///   config is used;
/// - a single-file VAE in the CompVis layout (`encoder.*`, `decoder.*`, `quant_conv.*`,
///   `post_quant_conv.*`, as `vae-ft-mse-840000-ema-pruned.safetensors`; a `first_stage_model.`
///   prefix is accepted too), mapped onto diffusers names with the model's VAE config, as
///   AUTOMATIC1111 does (such a file brings no config);
/// - a single file with diffusers names (`encoder.down_blocks.*`, ...), also with the model's config.
public struct ExternalVAE: Sendable {
    /// The path as given.
    public let path: String
    /// The file name without extension, or the folder's name: AUTOMATIC1111's `VAE` field.
    public let name: String
    public let component: ModelComponent<VAEConfig>
    /// 16 hex digits over the weights and config (`ModelContentHash`), part of the model's identity.
    public let contentHash: String
    /// The weight file whose SHA-256 AUTOMATIC1111 records as `VAE hash`.
    let weightFile: SafeTensorsFile

    /// Keys of CompVis VAE files that are training state, not weights (AUTOMATIC1111 drops them too).
    static let ignoredPrefixes = ["model_ema.", "loss."]

    /// Opens the VAE at `path`; `modelConfig` is the model's VAE config, used for single files.
    /// Throws `WeightError` naming `path` when it does not exist, is not a VAE, or is damaged.
    public static func open(_ path: String, modelConfig: VAEConfig) throws -> ExternalVAE {
        let path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        if DiffusersFolder.isFolder(path) {
            guard DiffusersFolder.isFile(path + "/config.json") else {
                throw WeightError.modelNotFound(path: path, detail: "is a folder without config.json: pass a diffusers "
                    + "VAE folder (config.json + diffusion_pytorch_model.safetensors) or a single .safetensors VAE file")
            }
            let component = try ModelComponent<VAEConfig>.open(directory: path)
            let root = (path as NSString).deletingLastPathComponent, folder = (path as NSString).lastPathComponent
            let files = try DiffusersFolder.weightFiles(root: root, component: folder)
            var hash = ModelContentHash()
            for file in files { hash.add(file: file) }
            hash.add(config: component.config)
            return ExternalVAE(path: path, name: folder, component: component, contentHash: hash.hex, weightFile: files[0])
        }
        guard DiffusersFolder.isFile(path) else {
            throw WeightError.modelNotFound(path: path, detail: "VAE not found. Pass a diffusers VAE folder or a single "
                + ".safetensors VAE file (such as vae-ft-mse-840000-ema-pruned.safetensors).")
        }
        let file = try SafeTensorsFile(path: path)
        let store = try singleFileStore(file, config: modelConfig)
        var hash = ModelContentHash()
        hash.add(file: file)
        hash.add(config: modelConfig)
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return ExternalVAE(path: path, name: name, component: ModelComponent(config: modelConfig, weights: store),
                           contentHash: hash.hex, weightFile: file)
    }

    /// AUTOMATIC1111's `VAE hash`: the first 10 hex digits of the weight file's SHA-256.
    /// Reads the whole file once (3.5 s for SD's 335 MB VAE on the 2-core test machine).
    public func shortHash() -> String { String(weightFile.sha256Hex(from: 0).prefix(10)) }

    /// The diffusers-named store of a single-file VAE, CompVis or diffusers keyed.
    static func singleFileStore(_ file: SafeTensorsFile, config: VAEConfig) throws -> WeightStore {
        let label = (file.path as NSString).lastPathComponent + " (VAE)"
        let keys = file.names.filter { key in !ignoredPrefixes.contains(where: key.hasPrefix) }
        let isVAEKey = { (key: String) in ["encoder.", "decoder.", "quant_conv.", "post_quant_conv."].contains(where: key.hasPrefix) }
        let stripped = keys.map { key in
            CompVisCheckpoint.vaePrefixes.first(where: key.hasPrefix).map { String(key.dropFirst($0.count)) } ?? key
        }
        guard stripped.contains(where: isVAEKey) else {
            let example = keys.first.map { " (its first key is '\($0)')" } ?? " (it holds no tensors)"
            throw WeightError.modelNotFound(path: file.path, detail: "is not a VAE: no encoder.* or decoder.* weights"
                + "\(example). Pass a VAE file such as vae-ft-mse-840000-ema-pruned.safetensors, or a diffusers VAE folder.")
        }
        let diffusersNamed = stripped.contains { $0.contains(".down_blocks.") || $0.contains(".up_blocks.") || $0.contains(".mid_block.") }
        let hint = "This VAE does not fit the model's VAE config (a single-file VAE uses the model's); "
            + "pass a diffusers VAE folder with its own config.json instead."
        var locations: [String: WeightStore.Location] = [:]
        if diffusersNamed {
            for (key, name) in zip(keys, stripped) {
                try CompVisCheckpoint.place(key, as: DeprecatedAttentionNames.modernName(name),
                                            shape: file.shape(of: key)!, file: file, into: &locations)
            }
            return WeightStore(locations: locations, source: label, shapeHint: hint, canonicalName: DeprecatedAttentionNames.modernName)
        }
        let map = CompVisKeyMap.vae(config)
        for (key, rest) in zip(keys, stripped) {
            let name = map.diffusersName(rest)
            let shape = file.shape(of: key)!
            let squeezed = name.map { CompVisCheckpoint.isVAEAttentionProjection($0, map) } ?? false
            try CompVisCheckpoint.place(key, as: name, shape: squeezed ? Array(shape.prefix(2)) : shape, file: file, into: &locations)
        }
        return WeightStore(locations: locations, source: label, shapeHint: hint)
    }
}

extension ModelLocation {
    /// This model with `vae` in place of its own VAE. The content hash changes (it covers the
    /// VAE's), so cluster nodes with different VAEs never count as holding the same model.
    /// Throws `WeightError.badConfig` when the VAE's latent channels differ from the UNet's.
    public func replacingVAE(_ vae: ExternalVAE) throws -> ModelLocation {
        guard vae.component.config.latentChannels == unet.config.inChannels else {
            throw WeightError.badConfig(file: vae.path, key: "latent_channels",
                                        detail: "is \(vae.component.config.latentChannels) but the model's UNet takes "
                                            + "\(unet.config.inChannels) channels: this VAE belongs to another kind of model")
        }
        var hash = ModelContentHash()
        hash.add("\(contentHash)|vae|\(vae.contentHash)")
        var result = ModelLocation(layout: layout, family: family, unet: unet, textEncoder: textEncoder, vae: vae.component,
                                   tokenizerDirectory: tokenizerDirectory, tokenizerPadToken: tokenizerPadToken,
                                   schedulerConfigData: schedulerConfigData,
                                   recommendations: recommendations, name: name, contentHash: hash.hex,
                                   skippedKeys: skippedKeys)
        result.externalVAE = vae
        result.loras = loras
        result.copySDXLParts(from: self)
        return result
    }
}
