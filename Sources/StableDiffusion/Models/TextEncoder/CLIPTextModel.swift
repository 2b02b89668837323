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
    /// `TextEncoderInputError` for no ids, too many, an id outside the vocabulary, a clip skip
    /// the encoder has no layers for, or inserted rows that do not fit; `DNNLError`/`ShapeError`
    /// from the layers.
    /// - Parameters:
    ///   - clipSkip: A1111's "Clip skip": 1 = the last layer's output (diffusers' default),
    ///     N = the output of layer `layers - N + 1`, i.e. the last N - 1 layers are skipped; the
    ///     final layer norm is applied in every case (diffusers' `clip_skip` is this minus 1).
    ///   - insertions: token-embedding rows replaced by textual-inversion vectors (before the
    ///     position embeddings are added, as A1111 and diffusers do).
    public func encode(_ ids: [Int], clipSkip: Int = 1, insertions: [TextualInversionInsertion] = []) throws -> Tensor {
        try checkIDs(ids)
        guard clipSkip >= 1, clipSkip == 1 || clipSkip <= layers.count else {
            throw TextEncoderInputError("clip skip \(clipSkip) needs a text encoder of at least \(clipSkip) layers; this one has \(layers.count) (use 1...\(layers.count))")
        }
        let x = try inputEmbeddings(ids, insertions: insertions)
        var h = x
        for layer in layers.prefix(layers.count - (clipSkip - 1)) { h = try layer(h) }
        return try finalNorm(h)
    }

    /// Throws `TextEncoderInputError` for no ids, too many, or one outside the vocabulary.
    func checkIDs(_ ids: [Int]) throws {
        guard !ids.isEmpty, ids.count <= shape.maxPositions else {
            throw TextEncoderInputError("the text encoder takes 1 to \(shape.maxPositions) tokens, got \(ids.count)")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= shape.vocabSize }) {
            throw TextEncoderInputError("token id \(bad) is outside the vocabulary of \(shape.vocabSize)")
        }
    }

    /// Token plus position embeddings `[T, hidden]`, with textual-inversion rows in place of
    /// their tokens' (ids already checked).
    func inputEmbeddings(_ ids: [Int], insertions: [TextualInversionInsertion]) throws -> Tensor {
        let d = shape.hiddenSize
        // Position -> the textual-inversion vector that replaces its token row.
        var inserted: [Int: [Float]] = [:]
        for insertion in insertions {
            guard insertion.offset >= 0, insertion.offset + insertion.vectors.count <= ids.count,
                  insertion.vectors.allSatisfy({ $0.count == d }) else {
                throw TextEncoderInputError("embedding '\(insertion.name)': \(insertion.vectors.count) vectors at token \(insertion.offset) do not fit \(ids.count) tokens of width \(d)")
            }
            for (k, vector) in insertion.vectors.enumerated() { inserted[insertion.offset + k] = vector }
        }
        let x = Tensor(uninitialized: [ids.count, d])
        for (i, id) in ids.enumerated() {
            let pos = positionEmbedding.pointer + i * d, dst = x.pointer + i * d
            if let vector = inserted[i] {
                for j in 0..<d { dst[j] = vector[j] + pos[j] }
            } else {
                let tok = tokenEmbedding.pointer + id * d
                for j in 0..<d { dst[j] = tok[j] + pos[j] }
            }
        }
        return x
    }
}

/// Token ids the text encoder cannot take (none, more than its positions, outside its vocabulary).
public struct TextEncoderInputError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
