import Foundation

/// What `--model DIR|FILE` resolves to: the three networks' configs and weights, the tokenizer
/// and scheduler files, a display name and a content hash.
///
/// Two layouts are accepted: a diffusers folder (`model_index.json`, `unet/`, `text_encoder/`,
/// `vae/`, each with `config.json` and safetensors weights, plus `tokenizer/` and `scheduler/`),
/// or a single-file CompVis/LDM SD 1.x, 2.x or SDXL `.safetensors` checkpoint, whose keys are mapped
/// onto the diffusers names. Weights are memory-mapped here and read when modules ask for them.
public struct ModelLocation: Sendable {
    public enum Layout: String, Sendable {
        case diffusersFolder, singleFile
    }

    public let layout: Layout
    /// SD 1.x, 2.x or SDXL: for a single file, what its keys say; for a folder, SDXL when it has
    /// `text_encoder_2/`, else what its text encoder is.
    public let family: ModelFamily
    public let unet: ModelComponent<UNetConfig>
    public let textEncoder: ModelComponent<CLIPTextConfig>
    public let vae: ModelComponent<VAEConfig>
    /// Folder with `vocab.json` and `merges.txt`; nil means "use the default CLIP tokenizer".
    public let tokenizerDirectory: String?
    /// The padding token to use instead of the tokenizer files' own: set where the files are the
    /// default CLIP tokenizer's but the model is SD 2.x (which pads with "!").
    public let tokenizerPadToken: String?
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
    /// SDXL: `text_encoder_2` (OpenCLIP ViT-bigG as a `CLIPTextModelWithProjection`, with
    /// `text_projection`); nil for SD 1.x/2.x.
    public var textEncoder2: ModelComponent<CLIPTextConfig>? = nil
    /// SDXL: the folder of the second tokenizer (`tokenizer_2/`, which pads with "!").
    public var tokenizer2Directory: String? = nil
    /// SDXL's `force_zeros_for_empty_prompt` (`model_index.json`, true unless it says otherwise):
    /// an empty negative prompt conditions on zeros instead of the encoded empty text.
    public var forceZerosForEmptyPrompt: Bool = false

    /// Takes SDXL's second text encoder, tokenizer and empty-prompt rule from `other`: the
    /// locations made from this one (`replacingVAE`, `applyingLoRAs`) keep them.
    mutating func copySDXLParts(from other: ModelLocation) {
        textEncoder2 = other.textEncoder2
        tokenizer2Directory = other.tokenizer2Directory
        forceZerosForEmptyPrompt = other.forceZerosForEmptyPrompt
    }

    /// `scheduler_config.json` parsed as a JSON object.
    public var schedulerConfigJSON: [String: Any]? {
        schedulerConfigData.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }

    /// Resolves `path` (a diffusers folder or a `.safetensors` checkpoint). For a single file,
    /// `configDirectory` is a diffusers folder whose configs, tokenizer and scheduler to use;
    /// without it the built-in configs of the file's family apply (SD 1.5's, SDXL 1.0 base's, or SD 2.1's, for
    /// which `predictionType` must be given: the file does not say whether it is a 768-v or a
    /// 512-base model). `predictionType` overrides the scheduler config's for any model.
    public static func open(_ path: String, configDirectory: String? = nil,
                            predictionType: PredictionType? = nil) throws -> ModelLocation {
        let path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        if DiffusersFolder.isFolder(path) {
            guard DiffusersFolder.isPipelineFolder(path) else {
                throw WeightError.modelNotFound(path: path, detail: "is a folder but not a diffusers model folder "
                    + "(no model_index.json or unet/). Pass a diffusers folder or a single .safetensors checkpoint.")
            }
            return try openFolder(path, predictionType: predictionType)
        }
        if SafeTensorsFile.pickleExtensions.contains((path as NSString).pathExtension.lowercased()) {
            throw WeightError.pickleRefused(file: path)
        }
        guard DiffusersFolder.isFile(path) else {
            throw WeightError.modelNotFound(path: path, detail: "does not exist. Pass a diffusers model folder or a "
                + "single-file .safetensors checkpoint.")
        }
        return try openSingleFile(path, configDirectory: configDirectory, predictionType: predictionType)
    }

    /// The scheduler config with `prediction_type` set to `prediction` (unchanged without one).
    static func schedulerConfig(_ data: Data?, predicting prediction: PredictionType?) throws -> Data? {
        guard let prediction else { return data }
        var object = (try data.flatMap { try JSONSerialization.jsonObject(with: $0) as? [String: Any] }) ?? [:]
        object["prediction_type"] = prediction.rawValue
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    private static func openFolder(_ root: String, predictionType: PredictionType?) throws -> ModelLocation {
        let unetConfig = try DiffusersFolder.config(UNetConfig.self, root: root, component: "unet")
        let clipConfig = try DiffusersFolder.config(CLIPTextConfig.self, root: root, component: "text_encoder")
        let vaeConfig = try DiffusersFolder.config(VAEConfig.self, root: root, component: "vae")
        try validate(unetConfig, clipConfig, vaeConfig, source: root)
        let name = (root as NSString).lastPathComponent
        let unetFiles = try DiffusersFolder.weightFiles(root: root, component: "unet")
        let clipFiles = try DiffusersFolder.weightFiles(root: root, component: "text_encoder")
        let vaeFiles = try DiffusersFolder.weightFiles(root: root, component: "vae")
        let sdxl = try SDXLFolderParts.open(root: root, name: name)
        var hash = ModelContentHash()
        for file in unetFiles + clipFiles + vaeFiles { hash.add(file: file) }
        hash.add(config: unetConfig)
        hash.add(config: clipConfig)
        hash.add(config: vaeConfig)
        if let sdxl { sdxl.addToHash(&hash) }
        let recommendations = try SamplingRecommendations.load(root: root)
        if let recommendations { hash.add(config: recommendations) }
        if let predictionType { hash.add("prediction_type=\(predictionType.rawValue)") }
        var location = ModelLocation(
            layout: .diffusersFolder,
            family: sdxl != nil ? .stableDiffusionXL
                : clipConfig.hiddenAct == "gelu" && unetConfig.useLinearProjection ? .stableDiffusion2 : .stableDiffusion1,
            unet: ModelComponent(config: unetConfig, weights: try WeightStore(files: unetFiles, source: "\(name)/unet")),
            textEncoder: ModelComponent(config: clipConfig,
                                        weights: try WeightStore(files: clipFiles, source: "\(name)/text_encoder",
                                                                 rename: CompVisKeyMap.withTextModelLevel)),
            vae: ModelComponent(config: vaeConfig, weights: try WeightStore(
                files: vaeFiles, source: "\(name)/vae", rename: DeprecatedAttentionNames.modernName)),
            tokenizerDirectory: DiffusersFolder.tokenizerDirectory(root: root), tokenizerPadToken: nil,
            schedulerConfigData: try schedulerConfig(DiffusersFolder.schedulerConfig(root: root), predicting: predictionType),
            recommendations: recommendations, name: name, contentHash: hash.hex, skippedKeys: [])
        if let sdxl {
            location.textEncoder2 = sdxl.textEncoder2
            location.tokenizer2Directory = sdxl.tokenizer2Directory
            location.forceZerosForEmptyPrompt = sdxl.forceZerosForEmptyPrompt
        }
        return location
    }

    private static func openSingleFile(_ path: String, configDirectory: String?,
                                       predictionType: PredictionType?) throws -> ModelLocation {
        let file = try SafeTensorsFile(path: path)
        let family = CompVisCheckpoint.family(of: file)
        var unetConfig = UNetConfig.stableDiffusion15
        var clipConfig = CLIPTextConfig.stableDiffusion15
        let vaeConfig: VAEConfig
        var tokenizer: String?
        var padToken: String?
        var scheduler: Data? = Data(stableDiffusion15SchedulerConfig.utf8)
        var recommendations: SamplingRecommendations?
        let isXL = family == .stableDiffusionXL
        var clip2Config: CLIPTextConfig? = isXL ? .stableDiffusionXL2 : nil
        var tokenizer2: String?
        var forceZeros = isXL
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
            if isXL {
                clip2Config = try DiffusersFolder.config(CLIPTextConfig.self, root: root, component: "text_encoder_2")
                tokenizer2 = DiffusersFolder.tokenizerDirectory(root: root, name: "tokenizer_2")
                forceZeros = try SDXLFolderParts.forceZeros(root: root)
            }
        } else {
            vaeConfig = isXL ? .stableDiffusionXL : .stableDiffusion15
            if isXL {
                // SDXL's text_encoder is CLIP ViT-L as in SD 1.5; tokenizer_2 falls back to the
                // first tokenizer's vocabulary padded with "!" (the pipeline does that).
                unetConfig = .stableDiffusionXL
                scheduler = Data(stableDiffusionXLSchedulerConfig.utf8)
            }
            if family == .stableDiffusion2 {
                guard let predictionType else { throw WeightError.predictionTypeNeeded(file: path) }
                unetConfig = .stableDiffusion2(sampleSize: predictionType == .vPrediction ? 96 : 64)
                clipConfig = .stableDiffusion2
                padToken = stableDiffusion2PadToken
                scheduler = Data(stableDiffusion2SchedulerConfig(predictionType).utf8)
            }
        }
        scheduler = try schedulerConfig(scheduler, predicting: predictionType)
        try validate(unetConfig, clipConfig, vaeConfig,
                     source: configDirectory ?? "built-in \(family.rawValue) config")
        try clip2Config?.validate(file: (configDirectory ?? "built-in SDXL config") + "/text_encoder_2/config.json")
        let checkpoint = try CompVisCheckpoint(file: file, unet: unetConfig, vae: vaeConfig, textEncoder: clipConfig,
                                               textEncoder2: clip2Config)
        var hash = ModelContentHash()
        hash.add(file: file)
        hash.add(config: unetConfig)
        hash.add(config: clipConfig)
        hash.add(config: vaeConfig)
        if let clip2Config {
            hash.add(config: clip2Config)
            hash.add("force_zeros_for_empty_prompt=\(forceZeros)")
        }
        if let recommendations { hash.add(config: recommendations) }
        if let predictionType { hash.add("prediction_type=\(predictionType.rawValue)") }
        var location = ModelLocation(
            layout: .singleFile, family: family,
            unet: ModelComponent(config: unetConfig, weights: checkpoint.unet),
            textEncoder: ModelComponent(config: clipConfig, weights: checkpoint.textEncoder),
            vae: ModelComponent(config: vaeConfig, weights: checkpoint.vae),
            tokenizerDirectory: tokenizer, tokenizerPadToken: padToken, schedulerConfigData: scheduler,
            recommendations: recommendations,
            name: ((path as NSString).lastPathComponent as NSString).deletingPathExtension,
            contentHash: hash.hex, skippedKeys: checkpoint.skippedKeys)
        if let clip2Config, let weights = checkpoint.textEncoder2 {
            location.textEncoder2 = ModelComponent(config: clip2Config, weights: weights)
            location.tokenizer2Directory = tokenizer2
            location.forceZerosForEmptyPrompt = forceZeros
        }
        return location
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
