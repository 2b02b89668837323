import Foundation

/// A single-file CompVis/LDM Stable Diffusion v1, v2 or SDXL checkpoint split into diffusers-named stores.
///
/// Keys under `model.diffusion_model.` (UNet), `first_stage_model.` (VAE) and
/// `cond_stage_model.transformer.` (SD 1.x: CLIP) are renamed through `CompVisKeyMap`s built from
/// the configs; `cond_stage_model.model.` (SD 2.x: OpenCLIP) through `OpenCLIPTextKeys`. Keys of one of those components that no rule covers stay in its store under their
/// original name, so `checkAllUsed()` names them. Everything else (EMA copies, the noise schedule
/// buffers `betas`, `alphas_cumprod`, ..., `logvar`) is not a model weight and is skipped.
public struct CompVisCheckpoint {
    public static let unetPrefix = "model.diffusion_model."
    public static let vaePrefixes = ["first_stage_model.", "vae."]
    public static let textEncoderPrefix = "cond_stage_model.transformer."

    public let unet: WeightStore
    public let textEncoder: WeightStore
    public let vae: WeightStore
    /// SDXL: the second text encoder (OpenCLIP ViT-bigG under `conditioner.embedders.1.model.`,
    /// with `text_projection`); nil for SD 1.x/2.x files.
    public let textEncoder2: WeightStore?
    /// Keys outside the components, sorted.
    public let skippedKeys: [String]

    /// SDXL's text encoders: CLIP ViT-L in transformers' layout, OpenCLIP ViT-bigG in OpenCLIP's.
    public static let sdxlTextEncoderPrefix = "conditioner.embedders.0.transformer."
    public static let sdxlTextEncoder2Prefix = "conditioner.embedders.1.model."

    /// Which text encoder layout `file` has: SD 2.x files keep OpenCLIP's under
    /// `cond_stage_model.model.`, SDXL files two encoders under `conditioner.embedders.0/1`.
    public static func family(of file: SafeTensorsFile) -> ModelFamily {
        if file.names.contains(where: { $0.hasPrefix(sdxlTextEncoder2Prefix) }) { return .stableDiffusionXL }
        return file.names.contains { $0.hasPrefix(OpenCLIPTextKeys.prefix) } ? .stableDiffusion2 : .stableDiffusion1
    }

    /// Splits `file` using the configs' block structure (which LDM block index is which layer) and
    /// the text encoder's layer count (an OpenCLIP tower holds one layer more than SD 2 runs).
    /// `textEncoder2`: the config of SDXL's second text encoder (nil for SD 1.x/2.x files).
    public init(file: SafeTensorsFile, unet unetConfig: UNetConfig, vae vaeConfig: VAEConfig,
                textEncoder clipConfig: CLIPTextConfig, textEncoder2 clip2Config: CLIPTextConfig? = nil) throws {
        let unetMap = CompVisKeyMap.unet(unetConfig)
        let vaeMap = CompVisKeyMap.vae(vaeConfig)
        let clipMap = CompVisKeyMap.clipText()
        var unet: [String: WeightStore.Location] = [:]
        var vae: [String: WeightStore.Location] = [:]
        var clip: [String: WeightStore.Location] = [:]
        var clip2: [String: WeightStore.Location] = [:]
        var skipped: [String] = []
        for key in file.names {
            let shape = file.shape(of: key)!
            if let rest = Self.strip(key, [Self.unetPrefix]) {
                try Self.place(key, as: unetMap.diffusersName(rest), shape: shape, file: file, into: &unet)
            } else if let rest = Self.strip(key, Self.vaePrefixes) {
                let name = vaeMap.diffusersName(rest)
                let squeezed = name.map { Self.isVAEAttentionProjection($0, vaeMap) } ?? false
                try Self.place(key, as: name, shape: squeezed ? Array(shape.prefix(2)) : shape, file: file, into: &vae)
            } else if let rest = Self.strip(key, [Self.sdxlTextEncoder2Prefix]), let clip2Config {
                try Self.placeOpenCLIP(key, rest, shape: shape, layers: clip2Config.numHiddenLayers, keepProjection: true,
                                       file: file, into: &clip2, skipped: &skipped)
            } else if let rest = Self.strip(key, [Self.textEncoderPrefix, Self.sdxlTextEncoderPrefix]) {
                let name = clipMap.diffusersName(CompVisKeyMap.withTextModelLevel(rest))
                try Self.place(key, as: name, shape: shape, file: file, into: &clip)
            } else if let rest = Self.strip(key, [OpenCLIPTextKeys.prefix]) {
                try Self.placeOpenCLIP(key, rest, shape: shape, layers: clipConfig.numHiddenLayers, keepProjection: false,
                                       file: file, into: &clip, skipped: &skipped)
            } else {
                skipped.append(key)
            }
        }
        let hint = "These weights do not match the configs used (SD v1.5's, SD 2.x's or SDXL's defaults unless a config folder was given): "
            + "pass the diffusers folder holding this checkpoint's configs as the config folder."
        let label = (file.path as NSString).lastPathComponent
        self.unet = WeightStore(locations: unet, source: "\(label) (UNet)", shapeHint: hint)
        self.vae = WeightStore(locations: vae, source: "\(label) (VAE)", shapeHint: hint)
        self.textEncoder = WeightStore(locations: clip, source: "\(label) (text encoder)", shapeHint: hint,
                                       canonicalName: CompVisKeyMap.withTextModelLevel)
        textEncoder2 = clip2Config == nil ? nil : WeightStore(locations: clip2, source: "\(label) (text encoder 2)", shapeHint: hint,
                                                             canonicalName: SDXLFolderParts.textEncoder2Name)
        skippedKeys = skipped.sorted()
    }

    /// Places an OpenCLIP text-tower tensor (`rest` relative to its prefix) by `OpenCLIPTextKeys`.
    private static func placeOpenCLIP(_ key: String, _ rest: String, shape: [Int], layers: Int, keepProjection: Bool,
                                      file: SafeTensorsFile, into store: inout [String: WeightStore.Location],
                                      skipped: inout [String]) throws {
        switch OpenCLIPTextKeys.mapping(rest, shape: shape, layers: layers, keepProjection: keepProjection) {
        case .parts(let parts):
            for part in parts {
                guard store[part.name] == nil else { throw WeightError.duplicateKey(source: file.path, key: part.name) }
                store[part.name] = WeightStore.Location(file: file, key: key, shape: part.shape, rows: part.rows,
                                                        transposed: part.transposed)
            }
        case .skipped: skipped.append(key)
        case .unknown: try place(key, as: nil, shape: shape, file: file, into: &store)
        }
    }

    private static func strip(_ key: String, _ prefixes: [String]) -> String? {
        for prefix in prefixes where key.hasPrefix(prefix) { return String(key.dropFirst(prefix.count)) }
        return nil
    }

    /// Records `key` under its diffusers name, or under its own name when unmapped (so that it
    /// surfaces as surplus rather than vanishing).
    static func place(_ key: String, as name: String?, shape: [Int], file: SafeTensorsFile,
                              into locations: inout [String: WeightStore.Location]) throws {
        let target = name ?? key
        guard locations[target] == nil else { throw WeightError.duplicateKey(source: file.path, key: target) }
        locations[target] = WeightStore.Location(file: file, key: key, shape: shape)
    }

    /// diffusers' VAE attention projections are linear layers; CompVis stores them as 1x1 convolutions.
    static func isVAEAttentionProjection(_ name: String, _ map: CompVisKeyMap) -> Bool {
        guard map.rule(forDiffusers: name)?.suffixes == .vaeAttention else { return false }
        return ["to_q.weight", "to_k.weight", "to_v.weight", "to_out.0.weight"].contains { name.hasSuffix($0) }
    }
}
