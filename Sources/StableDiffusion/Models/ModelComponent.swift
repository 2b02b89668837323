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
