import Foundation

/// `text_encoder/config.json` of a transformers `CLIPTextModel`. Absent keys take transformers'
/// `CLIPTextConfig` defaults; unknown keys are ignored.
public struct CLIPTextConfig: ModelConfig, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    @ExplicitNull public var projectionDim: Int?
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    /// `quick_gelu` for SD v1 (OpenAI CLIP), `gelu` for some others.
    public var hiddenAct: String
    public var layerNormEps: Double
    @ExplicitNull public var padTokenId: Int?
    @ExplicitNull public var bosTokenId: Int?
    /// SD v1.5's file says 2 (a leftover of early transformers); only pooled outputs use it and
    /// Stable Diffusion uses the last hidden state, so it does not change SD's results.
    @ExplicitNull public var eosTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case projectionDim = "projection_dim", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", maxPositionEmbeddings = "max_position_embeddings"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case padTokenId = "pad_token_id", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.value(.vocabSize, default: 49408)
        hiddenSize = try c.value(.hiddenSize, default: 512)
        intermediateSize = try c.value(.intermediateSize, default: 2048)
        projectionDim = c.contains(.projectionDim) ? try c.decodeIfPresent(Int.self, forKey: .projectionDim) : 512
        numHiddenLayers = try c.value(.numHiddenLayers, default: 12)
        numAttentionHeads = try c.value(.numAttentionHeads, default: 8)
        maxPositionEmbeddings = try c.value(.maxPositionEmbeddings, default: 77)
        hiddenAct = try c.value(.hiddenAct, default: "quick_gelu")
        layerNormEps = try c.value(.layerNormEps, default: 1e-5)
        padTokenId = c.contains(.padTokenId) ? try c.decodeIfPresent(Int.self, forKey: .padTokenId) : 1
        bosTokenId = c.contains(.bosTokenId) ? try c.decodeIfPresent(Int.self, forKey: .bosTokenId) : 49406
        eosTokenId = c.contains(.eosTokenId) ? try c.decodeIfPresent(Int.self, forKey: .eosTokenId) : 49407
    }
}

extension CLIPTextConfig {
    /// transformers' defaults for every key: `CLIPTextConfig()` (a CLIP ViT-B text tower).
    public static let transformersDefaults: CLIPTextConfig =
        try! JSONDecoder().decode(CLIPTextConfig.self, from: Data("{}".utf8))

    /// `text_encoder/config.json` of Stable Diffusion v1.4/v1.5: OpenAI CLIP ViT-L/14's text tower.
    public static let stableDiffusion15: CLIPTextConfig = {
        var config = transformersDefaults
        config.hiddenSize = 768
        config.intermediateSize = 3072
        config.projectionDim = 768
        config.numAttentionHeads = 12
        config.bosTokenId = 0
        config.eosTokenId = 2
        return config
    }()

    /// Width of each attention head.
    public var headDim: Int { hiddenSize / numAttentionHeads }

    /// Checks that heads divide the width. `file` names the source in errors.
    public func validate(file: String) throws {
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw WeightError.badConfig(file: file, key: "num_attention_heads",
                                        detail: "(\(numAttentionHeads)) does not divide hidden_size \(hiddenSize)")
        }
    }
}
