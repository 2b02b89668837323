/// One text-encoder input of a long prompt: start token, `chunkLength` tokens (padded with the end
/// token), end token, and a multiplier per token.
public struct PromptChunk: Sendable, Equatable {
    /// `chunkLength + 2` ids. A textual-inversion placeholder is id 0, its rows come from `insertions`.
    public var tokens: [Int]
    /// One per token: the emphasis weight, as the 32-bit float A1111 hands to torch.
    public var multipliers: [Float]
    /// Token rows replaced by textual-inversion vectors: at `offset` (counting the start token),
    /// `vectors.count` rows.
    public var insertions: [TextualInversionInsertion]

    /// Whether any multiplier is not 1 (only then does emphasis change the embedding).
    public var isWeighted: Bool { multipliers.contains { $0 != 1 } }
}

/// Textual-inversion vectors placed into a chunk at a token offset.
public struct TextualInversionInsertion: Sendable, Equatable {
    public var offset: Int
    public var name: String
    public var vectors: [[Float]]
}

/// AUTOMATIC1111's split of a weighted prompt into chunks (`sd_hijack_clip.py`,
/// `tokenize_line`), rule for rule:
///
/// - each parsed piece is tokenized on its own (no start or end token, no truncation);
/// - a chunk holds `chunkLength` tokens (75 for SD v1); when it is full and the token to add is
///   not a comma, the tokens after the chunk's last comma move to the next chunk if there are at
///   most `commaBacktrack` (20, A1111's default) of them;
/// - `BREAK` ends the chunk; the end-of-text token pads it, and every chunk gets its own start and
///   end token (multiplier 1);
/// - a textual-inversion name found in the token stream becomes as many placeholder tokens as the
///   embedding has vectors, all kept in one chunk (the chunk ends early when they do not fit);
/// - an empty prompt is one chunk of padding.
public struct PromptChunker {
    public let tokenizer: CLIPTokenizer
    /// Tokens per chunk between the start and end token: the encoder's positions minus 2.
    public let chunkLength: Int
    public let commaBacktrack: Int
    public let embeddings: TextualInversionLibrary?
    private let commaID: Int?

    public static let standardCommaBacktrack = 20

    public init(tokenizer: CLIPTokenizer, chunkLength: Int = 75, commaBacktrack: Int = standardCommaBacktrack,
                embeddings: TextualInversionLibrary? = nil) {
        precondition(chunkLength >= 1, "a chunk needs room for one token")
        self.tokenizer = tokenizer
        self.chunkLength = chunkLength
        self.commaBacktrack = commaBacktrack
        self.embeddings = embeddings
        commaID = tokenizer.id(of: ",</w>")
    }

    /// The chunks of already parsed pieces (`PromptAttention.parse`, or one piece of weight 1 for
    /// a literal prompt). Throws `TextualInversionError` when the text names a refused embedding.
    public func chunks(_ pieces: [WeightedText]) throws -> [PromptChunk] {
        var builder = Builder(chunker: self)
        for piece in pieces {
            if piece.isBreak {
                builder.nextChunk()
                continue
            }
            let tokens = tokenizer.encode(piece.text)
            var position = 0
            while position < tokens.count {
                let token = tokens[position]
                if token == commaID {
                    builder.lastComma = builder.tokens.count
                } else if builder.tokens.count == chunkLength {
                    builder.moveTextAfterCommaIfNear()
                }
                if builder.tokens.count == chunkLength { builder.nextChunk() }
                guard let match = try embeddings?.match(in: tokens, at: position) else {
                    builder.tokens.append(token)
                    builder.multipliers.append(Float(piece.weight))
                    position += 1
                    continue
                }
                let count = match.embedding.vectors.count
                if builder.tokens.count + count > chunkLength { builder.nextChunk() }
                builder.insertions.append(TextualInversionInsertion(offset: builder.tokens.count + 1, name: match.embedding.name,
                                                                    vectors: match.embedding.vectors))
                builder.tokens += repeatElement(0, count: count)
                builder.multipliers += repeatElement(Float(piece.weight), count: count)
                position += match.tokenCount
            }
        }
        if !builder.tokens.isEmpty || builder.chunks.isEmpty { builder.nextChunk() }
        return builder.chunks
    }

    /// The chunk being filled and those done (A1111's `next_chunk` closure and its state).
    private struct Builder {
        let chunker: PromptChunker
        var chunks: [PromptChunk] = []
        var tokens: [Int] = []
        var multipliers: [Float] = []
        var insertions: [TextualInversionInsertion] = []
        /// Index in `tokens` of the chunk's last comma, -1 when none.
        var lastComma = -1

        init(chunker: PromptChunker) { self.chunker = chunker }

        mutating func nextChunk() {
            let t = chunker.tokenizer, pad = chunker.chunkLength - tokens.count
            if pad > 0 {
                tokens += repeatElement(t.endID, count: pad)
                multipliers += repeatElement(1, count: pad)
            }
            var ids = [t.startID] + tokens + [t.endID]
            // Where the pad token is not the end token (not SD v1), what follows the first end
            // token is padding, as A1111 writes it.
            if t.padID != t.endID, let end = ids.firstIndex(of: t.endID) {
                for i in (end + 1)..<ids.count { ids[i] = t.padID }
            }
            chunks.append(PromptChunk(tokens: ids, multipliers: [1] + multipliers + [1], insertions: insertions))
            tokens = []
            multipliers = []
            insertions = []
            lastComma = -1
        }

        /// A full chunk whose last comma is at most `commaBacktrack` tokens back: the tokens after
        /// the comma start the next chunk.
        mutating func moveTextAfterCommaIfNear() {
            guard chunker.commaBacktrack != 0, lastComma != -1, tokens.count - lastComma <= chunker.commaBacktrack else { return }
            let cut = lastComma + 1
            let movedTokens = Array(tokens[cut...]), movedMultipliers = Array(multipliers[cut...])
            // Insertions after the comma move with their tokens (A1111 leaves them behind, which
            // puts the vectors at the wrong place; see docs/tokenizer.md).
            let movedInsertions = insertions.filter { $0.offset - 1 >= cut }.map {
                TextualInversionInsertion(offset: $0.offset - cut, name: $0.name, vectors: $0.vectors)
            }
            insertions.removeAll { $0.offset - 1 >= cut }
            tokens.removeSubrange(cut...)
            multipliers.removeSubrange(cut...)
            nextChunk()
            tokens = movedTokens
            multipliers = movedMultipliers
            insertions = movedInsertions
        }
    }
}
