/// Where a prompt's parts sit among the text encoder's positions: [SOS] at 0, the words at
/// 1...n, the [EOS] token at n + 1 and, for SD v1 (padded with `<|endoftext|>`), more [EOS]
/// tokens up to the last position. The paper's probes move these rows between prompts.
public struct TokenLayout: Sendable, Equatable {
    /// How many rows the text encoder puts out (77 for CLIP).
    public let positions: Int
    /// n: the prompt's word (content) tokens.
    public let wordCount: Int

    public init(positions: Int, wordCount: Int) {
        self.positions = positions
        self.wordCount = wordCount
    }

    /// The layout of tokenized ids `[start, words..., end, padding...]`: the words end at the
    /// first end id after the start token.
    public init(ids: [Int], endID: Int) {
        let end = ids.dropFirst().firstIndex(of: endID) ?? ids.count
        self.init(positions: ids.count, wordCount: max(end - 1, 0))
    }

    /// The word rows, `1 ... n` (empty for the empty prompt).
    public var wordRows: Range<Int> { 1 ..< 1 + wordCount }
    /// The [EOS] rows: the end token and the padding behind it.
    public var endRows: Range<Int> { min(1 + wordCount, positions) ..< positions }
}
