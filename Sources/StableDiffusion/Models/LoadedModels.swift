import Compute

extension WeightStore: WeightSource {}

extension UNet2DConditionModel {
    /// Builds the UNet from its config and weights (diffusers key names).
    public convenience init(config: UNetConfig, weights: WeightSource, precision: Precision = .fp32) throws {
        try precision.checkSupported()
        try self.init(WeightScope(weights, precision: precision), layout: UNetLayout(config: config))
    }
}

extension CLIPTextModel {
    public convenience init(config c: CLIPTextConfig, weights: WeightSource, precision: Precision = .fp32) throws {
        try precision.checkSupported()
        guard c.hiddenAct == "quick_gelu" || c.hiddenAct == "gelu" else {
            throw UnsupportedModelError(component: "text_encoder/config.json", detail: "hidden_act '\(c.hiddenAct)'")
        }
        try self.init(WeightScope(weights, precision: precision), shape: Shape(
            vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize,
            layers: c.numHiddenLayers, heads: c.numAttentionHeads, maxPositions: c.maxPositionEmbeddings,
            quickGELU: c.hiddenAct == "quick_gelu", epsilon: Float(c.layerNormEps)))
    }
}

extension AutoencoderKL {
    public convenience init(config c: VAEConfig, weights: WeightSource, precision: Precision = .fp32) throws {
        try precision.checkSupported()
        guard c.downBlockTypes.allSatisfy({ $0 == "DownEncoderBlock2D" }), c.upBlockTypes.allSatisfy({ $0 == "UpDecoderBlock2D" }) else {
            throw UnsupportedModelError(component: "vae/config.json", detail: "block types \(c.downBlockTypes) / \(c.upBlockTypes)")
        }
        try self.init(WeightScope(weights, precision: precision), shape: Shape(
            inChannels: c.inChannels, outChannels: c.outChannels, latentChannels: c.latentChannels,
            blockOutChannels: c.blockOutChannels, layersPerBlock: c.layersPerBlock, groups: c.normNumGroups,
            scalingFactor: Float(c.scalingFactor), useQuantConv: c.useQuantConv, usePostQuantConv: c.usePostQuantConv,
            midBlockAttention: c.midBlockAddAttention))
    }
}
