import Compute

extension CLIPTextModel {
    /// What SDXL reads from a CLIP text encoder: the hidden state after all but the last layer
    /// (transformers' `hidden_states[-2]`, without the final layer norm) and, when `poolAt` is
    /// given, the last layer's output after the final layer norm at that token (the pooled
    /// output, `[1, hidden]`, before any projection). Throws as `encode` does.
    public func encodePenultimate(_ ids: [Int], insertions: [TextualInversionInsertion] = [],
                                  poolAt: Int? = nil) throws -> (hidden: Tensor, pooled: Tensor?) {
        try checkIDs(ids)
        guard layers.count >= 2 else {
            throw TextEncoderInputError("SDXL reads the penultimate layer; this text encoder has \(layers.count) layer(s)")
        }
        var h = try inputEmbeddings(ids, insertions: insertions)
        for layer in layers.dropLast() { h = try layer(h) }
        guard let poolAt else { return (h, nil) }
        guard poolAt >= 0, poolAt < ids.count else { throw TextEncoderInputError("no token \(poolAt) to pool of \(ids.count)") }
        let last = try finalNorm(layers[layers.count - 1](h))
        let d = shape.hiddenSize
        let row = Tensor(uninitialized: [1, d])
        row.pointer.update(from: last.pointer + poolAt * d, count: d)
        return (h, row)
    }
}

/// SDXL's text side (diffusers' `StableDiffusionXLPipeline.encode_prompt`): the prompt goes
/// through both text encoders, each with its own tokenizer (CLIP ViT-L pads with the end token,
/// OpenCLIP ViT-bigG with "!"); their penultimate hidden states are concatenated along the width
/// (`[1, 77 k, 768 + 1280]` in SDXL) for the cross-attention, and the second encoder's pooled
/// output through `text_projection` is the pooled text embedding the UNet's `add_embedding` takes.
///
/// With A1111's syntax each encoder's chunks get the emphasis on their own (as A1111 hijacks
/// each of SDXL's two embedders) and the pooled embedding is the first chunk's, unweighted.
public struct SDXLPromptEncoder {
    public let first: PromptEncoder
    public let second: PromptEncoder
    /// `text_projection` of `text_encoder_2` (`CLIPTextModelWithProjection`), no bias.
    let projection: Linear
    /// transformers' rule for the pooled token: with the legacy `eos_token_id` 2 (SDXL's config)
    /// the position of the largest id, else the first position of the end token.
    let poolsAtLargestID: Bool
    let endTokenID: Int

    /// Width of the concatenated context: both encoders' hidden sizes.
    public var contextWidth: Int { first.textEncoder.shape.hiddenSize + second.textEncoder.shape.hiddenSize }
    /// Width of the pooled text embedding (`projection_dim` of `text_encoder_2`).
    public var pooledWidth: Int { projection.outFeatures }

    /// `secondWeights` must hold `text_projection.weight` (`[projection_dim, hidden]`).
    public init(first: PromptEncoder, second: PromptEncoder, secondConfig: CLIPTextConfig,
                secondWeights: WeightSource, precision: Precision) throws {
        guard let projectionDim = secondConfig.projectionDim else {
            throw UnsupportedModelError(component: "text_encoder_2/config.json", detail: "projection_dim is null; SDXL's second text encoder projects its pooled output")
        }
        self.first = first
        self.second = second
        projection = try .load(WeightScope(secondWeights, precision: precision)("text_projection"),
                               in: secondConfig.hiddenSize, out: projectionDim, bias: false)
        poolsAtLargestID = secondConfig.eosTokenId == 2
        endTokenID = second.tokenizer.endID
    }

    /// The context `[1, 77 k, D1 + D2]` and the pooled embedding (`pooledWidth` values) of `text`.
    /// Throws `TextEncoderInputError` for a clip skip other than 1 (SDXL always reads the
    /// penultimate layer) and what the encoders throw.
    public func encode(_ text: String, encoding: TextEncoding) throws -> (context: Tensor, pooled: [Float], truncatedTokens: Int) {
        guard encoding.clipSkip == 1 else {
            throw TextEncoderInputError("clip skip \(encoding.clipSkip) is not supported for SDXL, which always conditions on the text encoders' penultimate layers; use clip skip 1")
        }
        let prepared1 = try first.prepare(text, syntax: encoding.syntax)
        let prepared2 = try second.prepare(text, syntax: encoding.syntax)
        guard prepared1.chunks.count == prepared2.chunks.count else {
            throw TextEncoderInputError("the two SDXL tokenizers split the prompt into \(prepared1.chunks.count) and \(prepared2.chunks.count) chunks; they must share one vocabulary")
        }
        var parts: [Tensor] = []
        var pooled: Tensor?
        for (index, (chunk1, chunk2)) in zip(prepared1.chunks, prepared2.chunks).enumerated() {
            let a = try first.textEncoder.encodePenultimate(chunk1.tokens, insertions: chunk1.insertions).hidden
            let poolAt = index == 0 ? poolingPosition(chunk2.tokens) : nil
            let b = try second.textEncoder.encodePenultimate(chunk2.tokens, insertions: chunk2.insertions, poolAt: poolAt)
            if let row = b.pooled { pooled = try projection(row) }
            let left = chunk1.isWeighted ? PromptEncoder.emphasized(a, multipliers: chunk1.multipliers) : a
            let right = chunk2.isWeighted ? PromptEncoder.emphasized(b.hidden, multipliers: chunk2.multipliers) : b.hidden
            parts.append(try Self.concatenateWidth(left, right))
        }
        let joined = parts.count == 1 ? parts[0] : try Tensor.concatenateBatch(parts)
        return (joined.reshaped([1] + joined.shape), pooled!.values, prepared1.truncatedTokenCount)
    }

    func poolingPosition(_ ids: [Int]) -> Int {
        if poolsAtLargestID, let largest = ids.max() { return ids.firstIndex(of: largest)! }
        return ids.firstIndex(of: endTokenID) ?? ids.count - 1
    }

    /// `[T, D1]` and `[T, D2]` side by side: `[T, D1 + D2]` (torch.concat(dim=-1)).
    static func concatenateWidth(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape.count == 2, b.shape.count == 2, a.shape[0] == b.shape[0] else {
            throw ShapeError("SDXL context", expected: "two [tokens, width] tensors of equal token counts", got: b.shape)
        }
        let rows = a.shape[0], wa = a.shape[1], wb = b.shape[1]
        let out = Tensor(uninitialized: [rows, wa + wb])
        for r in 0..<rows {
            (out.pointer + r * (wa + wb)).update(from: a.pointer + r * wa, count: wa)
            (out.pointer + r * (wa + wb) + wa).update(from: b.pointer + r * wb, count: wb)
        }
        return out
    }
}
