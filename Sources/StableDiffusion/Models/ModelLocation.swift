import Foundation

/// What `--model DIR|FILE` resolves to: the three networks' configs and weights, the tokenizer
/// and scheduler files, a display name and a content hash.
///
/// Two layouts are accepted: a diffusers folder (`model_index.json`, `unet/`, `text_encoder/`,
/// `vae/`, each with `config.json` and safetensors weights, plus `tokenizer/` and `scheduler/`),
/// or a single-file CompVis/LDM SD v1 `.safetensors` checkpoint, whose keys are mapped onto the
/// diffusers names. Weights are memory-mapped here and read when modules ask for them.
public struct ModelLocation: Sendable {
    public enum Layout: String, Sendable {
        case diffusersFolder, singleFile
    }

    public let layout: Layout
    public let unet: ModelComponent<UNetConfig>
    public let textEncoder: ModelComponent<CLIPTextConfig>
    public let vae: ModelComponent<VAEConfig>
    /// Folder with `vocab.json` and `merges.txt`; nil means "use the default CLIP tokenizer".
    public let tokenizerDirectory: String?
    /// Raw `scheduler/scheduler_config.json` (for a single file without a config folder: SD v1.5's).
    public let schedulerConfigData: Data?
    /// The folder's `sdcluster.json` (for a single file: the config folder's), if any.
    public let recommendations: SamplingRecommendations?
    /// For PNG metadata: the folder or file name.
    public let name: String
    /// 16 hex digits identifying weights and configs (see `ModelContentHash`).
    public let contentHash: String
    /// For single files: keys that are not model weights and were skipped (EMA, schedule buffers).
    public let skippedKeys: [String]
    /// The VAE given with `--vae` in place of the model's own (`replacingVAE`), if any.
    public internal(set) var externalVAE: ExternalVAE? = nil
    /// The LoRAs merged into this model's UNet and text encoder (`applyingLoRAs`), if any.
    public internal(set) var loras: LoRASet? = nil

    /// `scheduler_config.json` parsed as a JSON object.
    public var schedulerConfigJSON: [String: Any]? {
        schedulerConfigData.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }

    /// Resolves `path` (a diffusers folder or a `.safetensors` checkpoint). For a single file,
    /// `configDirectory` is a diffusers folder whose configs, tokenizer and scheduler to use;
    /// without it the SD v1.5 configs apply.
    public static func open(_ path: String, configDirectory: String? = nil) throws -> ModelLocation {
        let path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        if DiffusersFolder.isFolder(path) {
            guard DiffusersFolder.isPipelineFolder(path) else {
                throw WeightError.modelNotFound(path: path, detail: "is a folder but not a diffusers model folder "
                    + "(no model_index.json or unet/). Pass a diffusers folder or a single .safetensors checkpoint.")
            }
            return try openFolder(path)
        }
        if SafeTensorsFile.pickleExtensions.contains((path as NSString).pathExtension.lowercased()) {
            throw WeightError.pickleRefused(file: path)
        }
        guard DiffusersFolder.isFile(path) else {
            throw WeightError.modelNotFound(path: path, detail: "does not exist. Pass a diffusers model folder or a "
                + "single-file .safetensors checkpoint.")
        }
        return try openSingleFile(path, configDirectory: configDirectory)
    }

    private static func openFolder(_ root: String) throws -> ModelLocation {
        let unetConfig = try DiffusersFolder.config(UNetConfig.self, root: root, component: "unet")
        let clipConfig = try DiffusersFolder.config(CLIPTextConfig.self, root: root, component: "text_encoder")
        let vaeConfig = try DiffusersFolder.config(VAEConfig.self, root: root, component: "vae")
        try validate(unetConfig, clipConfig, vaeConfig, source: root)
        let name = (root as NSString).lastPathComponent
        let unetFiles = try DiffusersFolder.weightFiles(root: root, component: "unet")
        let clipFiles = try DiffusersFolder.weightFiles(root: root, component: "text_encoder")
        let vaeFiles = try DiffusersFolder.weightFiles(root: root, component: "vae")
        var hash = ModelContentHash()
        for file in unetFiles + clipFiles + vaeFiles { hash.add(file: file) }
        hash.add(config: unetConfig)
        hash.add(config: clipConfig)
        hash.add(config: vaeConfig)
        let recommendations = try SamplingRecommendations.load(root: root)
        if let recommendations { hash.add(config: recommendations) }
        return ModelLocation(
            layout: .diffusersFolder,
            unet: ModelComponent(config: unetConfig, weights: try WeightStore(files: unetFiles, source: "\(name)/unet")),
            textEncoder: ModelComponent(config: clipConfig,
                                        weights: try WeightStore(files: clipFiles, source: "\(name)/text_encoder",
                                                                 rename: CompVisKeyMap.withTextModelLevel)),
            vae: ModelComponent(config: vaeConfig, weights: try WeightStore(
                files: vaeFiles, source: "\(name)/vae", rename: DeprecatedAttentionNames.modernName)),
            tokenizerDirectory: DiffusersFolder.tokenizerDirectory(root: root),
            schedulerConfigData: DiffusersFolder.schedulerConfig(root: root),
            recommendations: recommendations, name: name, contentHash: hash.hex, skippedKeys: [])
    }

    private static func openSingleFile(_ path: String, configDirectory: String?) throws -> ModelLocation {
        var unetConfig = UNetConfig.stableDiffusion15
        var clipConfig = CLIPTextConfig.stableDiffusion15
        var vaeConfig = VAEConfig.stableDiffusion15
        var tokenizer: String?
        var scheduler: Data? = Data(stableDiffusion15SchedulerConfig.utf8)
        var recommendations: SamplingRecommendations?
        if let root = configDirectory {
            guard DiffusersFolder.isFolder(root) else {
                throw WeightError.modelNotFound(path: root, detail: "config folder does not exist")
            }
            unetConfig = try DiffusersFolder.config(UNetConfig.self, root: root, component: "unet")
            clipConfig = try DiffusersFolder.config(CLIPTextConfig.self, root: root, component: "text_encoder")
            vaeConfig = try DiffusersFolder.config(VAEConfig.self, root: root, component: "vae")
            tokenizer = DiffusersFolder.tokenizerDirectory(root: root)
            scheduler = DiffusersFolder.schedulerConfig(root: root) ?? scheduler
            recommendations = try SamplingRecommendations.load(root: root)
        }
        try validate(unetConfig, clipConfig, vaeConfig, source: configDirectory ?? "built-in SD v1.5 config")
        let file = try SafeTensorsFile(path: path)
        let checkpoint = try CompVisCheckpoint(file: file, unet: unetConfig, vae: vaeConfig)
        var hash = ModelContentHash()
        hash.add(file: file)
        hash.add(config: unetConfig)
        hash.add(config: clipConfig)
        hash.add(config: vaeConfig)
        if let recommendations { hash.add(config: recommendations) }
        return ModelLocation(
            layout: .singleFile,
            unet: ModelComponent(config: unetConfig, weights: checkpoint.unet),
            textEncoder: ModelComponent(config: clipConfig, weights: checkpoint.textEncoder),
            vae: ModelComponent(config: vaeConfig, weights: checkpoint.vae),
            tokenizerDirectory: tokenizer, schedulerConfigData: scheduler, recommendations: recommendations,
            name: ((path as NSString).lastPathComponent as NSString).deletingPathExtension,
            contentHash: hash.hex, skippedKeys: checkpoint.skippedKeys)
    }

    private static func validate(_ unet: UNetConfig, _ clip: CLIPTextConfig, _ vae: VAEConfig, source: String) throws {
        try unet.validate(file: source + "/unet/config.json")
        try clip.validate(file: source + "/text_encoder/config.json")
        try vae.validate(file: source + "/vae/config.json")
    }

    /// `scheduler/scheduler_config.json` of SD v1.5 (PNDM), used for single files without a
    /// config folder, as diffusers' single-file loader does.
    public static let stableDiffusion15SchedulerConfig = """
        {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", \
        "beta_start": 0.00085, "clip_sample": false, "num_train_timesteps": 1000, "set_alpha_to_one": false, \
        "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null}
        """
}
