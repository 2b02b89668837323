import Compute

/// transformers' `CLIPTextModel`: token + position embeddings, pre-norm transformer layers with
/// causal self-attention and a quick-GELU (or GELU) MLP, final layer norm. The output is the
/// last hidden state, which SD v1 feeds to the UNet's cross-attention.
public final class CLIPTextModel {
    public struct Shape: Equatable {
        public var vocabSize: Int
        public var hiddenSize: Int
        public var intermediateSize: Int
        public var layers: Int
        public var heads: Int
        public var maxPositions: Int
        public var quickGELU: Bool
        public var epsilon: Float
    }

    final class Layer {
        let norm1, norm2: LayerNorm
        let attention: MultiHeadAttention
        let fc1, fc2: Linear
        let quickGELU: Bool

        init(_ w: WeightScope, shape s: Shape) throws {
            norm1 = try .load(w("layer_norm1"), channels: s.hiddenSize, epsilon: s.epsilon)
            norm2 = try .load(w("layer_norm2"), channels: s.hiddenSize, epsilon: s.epsilon)
            attention = try MultiHeadAttention(w("self_attn"), channels: s.hiddenSize, heads: s.heads, contextChannels: nil,
                                               projectionBias: true, names: ("q_proj", "k_proj", "v_proj", "out_proj"))
            fc1 = try .load(w("mlp.fc1"), in: s.hiddenSize, out: s.intermediateSize)
            fc2 = try .load(w("mlp.fc2"), in: s.intermediateSize, out: s.hiddenSize)
            quickGELU = s.quickGELU
        }

        func callAsFunction(_ x: Tensor) throws -> Tensor {
            let h = try attention(norm1(x), causal: true, residual: x)
            return try fc2(fc1(norm2(h), activation: quickGELU ? .quickGELU : .geluErf), residual: h)
        }
    }

    public let shape: Shape
    let tokenEmbedding: Tensor
    let positionEmbedding: Tensor
    let layers: [Layer]
    let finalNorm: LayerNorm

    init(_ w: WeightScope, shape: Shape) throws {
        self.shape = shape
        let t = w("text_model")
        tokenEmbedding = try t.tensor("embeddings.token_embedding.weight", [shape.vocabSize, shape.hiddenSize])
        positionEmbedding = try t.tensor("embeddings.position_embedding.weight", [shape.maxPositions, shape.hiddenSize])
        layers = try (0..<shape.layers).map { try Layer(t("encoder.layers.\($0)"), shape: shape) }
        finalNorm = try .load(t("final_layer_norm"), channels: shape.hiddenSize, epsilon: shape.epsilon)
    }

    /// Encodes token ids (one prompt, 1 to `maxPositions` ids) into `[T, hidden]`. Throws
    /// `TextEncoderInputError` for no ids, too many, or an id outside the vocabulary;
    /// `DNNLError`/`ShapeError` from the layers.
    public func encode(_ ids: [Int]) throws -> Tensor {
        let d = shape.hiddenSize
        guard !ids.isEmpty, ids.count <= shape.maxPositions else {
            throw TextEncoderInputError("the text encoder takes 1 to \(shape.maxPositions) tokens, got \(ids.count)")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= shape.vocabSize }) {
            throw TextEncoderInputError("token id \(bad) is outside the vocabulary of \(shape.vocabSize)")
        }
        let x = Tensor(uninitialized: [ids.count, d])
        for (i, id) in ids.enumerated() {
            let tok = tokenEmbedding.pointer + id * d, pos = positionEmbedding.pointer + i * d, dst = x.pointer + i * d
            for j in 0..<d { dst[j] = tok[j] + pos[j] }
        }
        var h = x
        for layer in layers { h = try layer(h) }
        return try finalNorm(h)
    }
}

/// Token ids the text encoder cannot take (none, more than its positions, outside its vocabulary).
public struct TextEncoderInputError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
