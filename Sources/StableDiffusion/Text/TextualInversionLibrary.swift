/// A textual-inversion embedding: vectors that stand in for the token rows where its name is
/// written in a prompt (A1111's `Embedding`).
public struct TextualInversionEmbedding: Sendable, Equatable {
    /// The file name without its extension: what a prompt writes.
    public let name: String
    /// One or more rows of the text encoder's width.
    public let vectors: [[Float]]
    /// SHA-256 of the file's bytes (hex): what an embedding cache key records.
    public let contentHash: String

    public init(name: String, vectors: [[Float]], contentHash: String) {
        self.name = name
        self.vectors = vectors
        self.contentHash = contentHash
    }
}

/// The embeddings a prompt may name, looked up A1111's way (`EmbeddingDatabase`,
/// `find_embedding_at_position`): each name is tokenized, and at each position of a prompt's
/// tokens the longest name whose tokens follow there wins.
public struct TextualInversionLibrary: Sendable {
    /// A name that may not be used, and why (a pickle file, say).
    public struct Refusal: Sendable, Equatable {
        public let name: String
        public let reason: String
    }

    private enum Entry: Sendable {
        case embedding(TextualInversionEmbedding)
        case refused(Refusal)
    }

    /// By first token id: the names starting with it, longest token sequence first.
    private var byFirstToken: [Int: [(ids: [Int], entry: Entry)]] = [:]
    /// Every usable embedding, by name.
    public private(set) var embeddings: [String: TextualInversionEmbedding] = [:]
    /// What the library holds, as one hash: SHA-256 (hex) over every name with its file's hash
    /// (or its refusal), sorted. Two libraries with equal digests read every prompt the same.
    public let digest: String

    /// - Parameters:
    ///   - embeddings: usable embeddings;
    ///   - refusals: names that are an error when a prompt uses them (files that cannot be loaded);
    ///   - tokenizer: what turns each name into the token sequence prompts are searched for.
    public init(embeddings: [TextualInversionEmbedding], refusals: [Refusal] = [], tokenizer: CLIPTokenizer) {
        let entries = embeddings.map { ($0.name, Entry.embedding($0)) } + refusals.map { ($0.name, Entry.refused($0)) }
        // Sorted by name first so that names with equal token sequences resolve the same on every machine.
        for (name, entry) in entries.sorted(by: { $0.0 < $1.0 }) {
            let ids = tokenizer.encode(name)
            guard let first = ids.first else { continue }
            byFirstToken[first, default: []].append((ids, entry))
        }
        for key in byFirstToken.keys {
            // A stable sort: longest first, ties by name.
            byFirstToken[key] = byFirstToken[key]!.enumerated()
                .sorted { ($0.element.ids.count, -$0.offset) > ($1.element.ids.count, -$1.offset) }
                .map(\.element)
        }
        for embedding in embeddings { self.embeddings[embedding.name] = embedding }
        let lines = embeddings.map { "\($0.name)\t\($0.contentHash)" } + refusals.map { "\($0.name)\trefused: \($0.reason)" }
        digest = SHA256.hex(Array(lines.sorted().joined(separator: "\n").utf8))
    }

    public var isEmpty: Bool { byFirstToken.isEmpty }

    /// The embedding whose name's tokens start at `position` of `tokens`, and how many tokens the
    /// name takes; nil when none does. Throws `TextualInversionError.refused` for a name that
    /// cannot be used.
    public func match(in tokens: [Int], at position: Int) throws -> (embedding: TextualInversionEmbedding, tokenCount: Int)? {
        guard let candidates = byFirstToken[tokens[position]] else { return nil }
        for (ids, entry) in candidates where position + ids.count <= tokens.count
            && tokens[position..<(position + ids.count)].elementsEqual(ids) {
            switch entry {
            case .embedding(let embedding): return (embedding, ids.count)
            case .refused(let refusal): throw TextualInversionError.refused(name: refusal.name, reason: refusal.reason)
            }
        }
        return nil
    }
}
