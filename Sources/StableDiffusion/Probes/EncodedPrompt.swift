import Compute

/// A prompt's text embedding `[1, T, D]` with the layout of its tokens.
public struct EncodedPrompt {
    public let text: String
    public let embedding: Tensor
    public let layout: TokenLayout

    public init(text: String, embedding: Tensor, layout: TokenLayout) {
        self.text = text
        self.embedding = embedding
        self.layout = layout
    }

    /// The embedding's width D.
    public var width: Int { embedding.shape.last ?? 0 }
}

extension StableDiffusionPipeline {
    /// `embed(prompt)` with the positions of its [SOS], word and [EOS] rows.
    public func encodePrompt(_ prompt: String) throws -> EncodedPrompt {
        let ids = tokenizer.tokenize(prompt, length: textEncoder.shape.maxPositions).ids
        return EncodedPrompt(text: prompt, embedding: try embed(prompt).embedding,
                             layout: TokenLayout(ids: ids, endID: tokenizer.endID))
    }
}
