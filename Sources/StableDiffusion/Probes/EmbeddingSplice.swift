import Compute

/// The paper's [EOS] probe (Yi et al., section 4): text embeddings assembled from the parts of two
/// prompts, to see which part carries the meaning.
public enum EmbeddingSplice {
    /// Which part of prompt A is replaced by prompt B's.
    public enum Variant: String, CaseIterable, Sendable {
        /// A's [SOS] and words, B's [EOS] rows behind them (the paper's main experiment).
        case eos
        /// A's [SOS] and [EOS] rows, B's words.
        case words
        /// A's words and [EOS] rows, B's [SOS] row.
        case sos
    }

    /// Where one row of a spliced embedding comes from.
    public struct RowSource: Equatable, Sendable {
        /// 0: the prompt giving the [SOS] row, 1: the words, 2: the [EOS] rows.
        public let part: Int
        public let row: Int
    }

    /// Row sources of `[SOS of sos] [words of words] [EOS rows of end]`. The [EOS] rows start at
    /// `end`'s first [EOS] and follow right behind the words; when they run out (the words are
    /// longer than `end`'s), the last row repeats, and what does not fit is dropped.
    public static func rowSources(sos: TokenLayout, words: TokenLayout, end: TokenLayout) -> [RowSource] {
        let positions = sos.positions
        var rows = [RowSource(part: 0, row: 0)]
        for r in words.wordRows where rows.count < positions { rows.append(RowSource(part: 1, row: r)) }
        let endRows = Array(end.endRows)
        var i = 0
        while rows.count < positions {
            rows.append(RowSource(part: 2, row: endRows.isEmpty ? end.positions - 1 : endRows[min(i, endRows.count - 1)]))
            i += 1
        }
        return rows
    }

    /// The embedding `[1, T, D]` assembled from three prompts' rows (see `rowSources`).
    /// - Throws: `ShapeError` when the prompts' embeddings differ in shape.
    public static func compose(sos: EncodedPrompt, words: EncodedPrompt, end: EncodedPrompt) throws -> Tensor {
        let shape = sos.embedding.shape
        for other in [words, end] where other.embedding.shape != shape {
            throw ShapeError("embedding splice", expected: "\(shape)", got: other.embedding.shape)
        }
        let d = sos.width
        let sources = [sos.embedding, words.embedding, end.embedding]
        let out = Tensor(uninitialized: shape)
        for (i, source) in rowSources(sos: sos.layout, words: words.layout, end: end.layout).enumerated() {
            let from = sources[source.part].pointer + source.row * d
            (out.pointer + i * d).update(from: from, count: d)
        }
        return out
    }

    /// A with the part named by `variant` taken from B.
    public static func splice(_ a: EncodedPrompt, _ b: EncodedPrompt, variant: Variant) throws -> Tensor {
        switch variant {
        case .eos: return try compose(sos: a, words: a, end: b)
        case .words: return try compose(sos: a, words: b, end: a)
        case .sos: return try compose(sos: b, words: a, end: a)
        }
    }
}
