import Compute

/// A prompt ready for the text encoder: its chunks and what reading it found.
public struct PreparedPrompt: Sendable, Equatable {
    public var chunks: [PromptChunk]
    /// Content tokens cut because they did not fit (literal prompts only; A1111's rules chunk).
    public var truncatedTokenCount: Int
    /// The textual-inversion embeddings the prompt uses, by name, with their content hashes.
    public var embeddingsUsed: [String: String]

    /// What `EmbeddingKey` must add to `TextEncoding.keyVariant`: the embeddings used, which
    /// change the embedding while the text stays the same.
    public var keyVariant: String {
        embeddingsUsed.sorted { $0.key < $1.key }.map { "ti=\($0.key):\($0.value)" }.joined(separator: ";")
    }
}

/// The text side of the pipeline: prompt text to the UNet's text embedding `[1, 77 k, D]`.
///
/// With `PromptSyntax.a1111` it follows AUTOMATIC1111's "Original" emphasis
/// (`sd_hijack_clip.py`, `sd_emphasis.py`): the prompt is parsed (`PromptAttention`), split into
/// chunks (`PromptChunker`), each chunk encoded on its own (`[77, D]`), and in a chunk with weights
/// every token's row is multiplied by its weight and the whole chunk then rescaled so that its
/// mean over all values is what it was before; the chunks are concatenated along the tokens.
/// With `PromptSyntax.literal` it is diffusers' encoding: one chunk, the rest cut.
public struct PromptEncoder {
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let embeddings: TextualInversionLibrary?

    public init(tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, embeddings: TextualInversionLibrary? = nil) {
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        self.embeddings = embeddings
    }

    /// Tokens between a chunk's start and end token: 75 for SD v1's 77 positions.
    public var chunkLength: Int { textEncoder.shape.maxPositions - 2 }

    /// Reads `text` into chunks. Throws `TextualInversionError.refused` when it names an
    /// embedding that cannot be used.
    public func prepare(_ text: String, syntax: PromptSyntax) throws -> PreparedPrompt {
        let library = embeddings.flatMap { $0.isEmpty ? nil : $0 }
        switch syntax {
        case .a1111:
            let chunker = PromptChunker(tokenizer: tokenizer, chunkLength: chunkLength, embeddings: library)
            let chunks = try chunker.chunks(PromptAttention.parse(text))
            return PreparedPrompt(chunks: chunks, truncatedTokenCount: 0, embeddingsUsed: used(chunks))
        case .literal:
            // No comma back-tracking: the first chunk is the first 75 tokens, as diffusers cuts.
            let chunker = PromptChunker(tokenizer: tokenizer, chunkLength: chunkLength, commaBacktrack: 0, embeddings: library)
            let chunks = try chunker.chunks([WeightedText(text, 1)])
            let kept = Array(chunks.prefix(1))
            let cut = chunks.dropFirst().reduce(0) { $0 + $1.contentLength(endID: tokenizer.endID, padID: tokenizer.padID) }
            return PreparedPrompt(chunks: kept, truncatedTokenCount: cut, embeddingsUsed: used(kept))
        }
    }

    /// The embedding `[1, 77 * chunks, D]` of a prepared prompt. Throws what the text encoder
    /// throws (`TextEncoderInputError` for a clip skip beyond its layers, `DNNLError`).
    public func encode(_ prompt: PreparedPrompt, clipSkip: Int) throws -> Tensor {
        let parts = try prompt.chunks.map { chunk -> Tensor in
            let z = try textEncoder.encode(chunk.tokens, clipSkip: clipSkip, insertions: chunk.insertions)
            return chunk.isWeighted ? Self.emphasized(z, multipliers: chunk.multipliers) : z
        }
        let joined = parts.count == 1 ? parts[0] : try Tensor.concatenateBatch(parts)
        return joined.reshaped([1] + joined.shape)
    }

    /// A1111's "Original" emphasis on one chunk's output `z` (`[T, D]`): each row times its
    /// token's multiplier, then everything times (mean before / mean after). The means are
    /// summed in doubles and rounded to floats (torch sums floats pairwise: the two can differ in
    /// the last bit of the ratio, nowhere else).
    public static func emphasized(_ z: Tensor, multipliers: [Float]) -> Tensor {
        let rows = z.shape[0], width = z.count / max(rows, 1)
        precondition(multipliers.count == rows, "one multiplier per token row")
        let out = Tensor(uninitialized: z.shape)
        let source = z.pointer, target = out.pointer
        var before = 0.0, after = 0.0
        for r in 0..<rows {
            let m = multipliers[r]
            for j in 0..<width {
                let value = source[r * width + j], weighted = value * m
                target[r * width + j] = weighted
                before += Double(value)
                after += Double(weighted)
            }
        }
        let count = Double(z.count)
        let ratio = Float(before / count) / Float(after / count)
        for i in 0..<out.count { target[i] *= ratio }
        return out
    }

    private func used(_ chunks: [PromptChunk]) -> [String: String] {
        var out: [String: String] = [:]
        for insertion in chunks.flatMap(\.insertions) {
            out[insertion.name] = embeddings?.embeddings[insertion.name]?.contentHash ?? ""
        }
        return out
    }
}

extension PromptChunk {
    /// Tokens that are neither the start token nor trailing end/pad tokens.
    func contentLength(endID: Int, padID: Int) -> Int {
        var end = tokens.count
        while end > 1, tokens[end - 1] == endID || tokens[end - 1] == padID { end -= 1 }
        return max(0, end - 1)
    }
}
