import Foundation

/// One network of a model (UNet, text encoder or VAE): its config and its diffusers-named weights.
public struct ModelComponent<Config: ModelConfig>: Sendable {
    public let config: Config
    public let weights: WeightStore

    public init(config: Config, weights: WeightStore) {
        self.config = config
        self.weights = weights
    }
}

extension ModelComponent {
    /// Opens one component folder on its own (`config.json` + weights), e.g. a `unet/` folder.
    public static func open(directory: String) throws -> ModelComponent {
        let path = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let root = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        let config = try DiffusersFolder.config(Config.self, root: root, component: name)
        let files = try DiffusersFolder.weightFiles(root: root, component: name)
        let rename: (String) -> String = Config.self == VAEConfig.self ? DeprecatedAttentionNames.modernName : { $0 }
        return ModelComponent(config: config, weights: try WeightStore(files: files, source: name, rename: rename))
    }
}
