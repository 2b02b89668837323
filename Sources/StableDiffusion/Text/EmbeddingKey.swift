/// What a text embedding depends on: the model's text encoder (by the model's content hash) and
/// the text, nothing else (not the image, not the slot). Equal keys, equal embeddings, so the
/// empty negative prompt that nearly every image shares is encoded and shipped once.
public struct EmbeddingKey: Hashable, Sendable {
    /// `ModelLocation.contentHash` (the cluster's `HostedModel.contentHash`).
    public let modelHash: String
    public let text: String

    public init(modelHash: String, text: String) {
        self.modelHash = modelHash
        self.text = text
    }

    /// The key as a short id, the same on every machine and in every run: 32 hexadecimal digits
    /// (128 bits) of SHA-256 over the model hash, a NUL and the text's UTF-8. The cluster's
    /// embedding ids on the wire are these (docs/protocol.md).
    public var id: String {
        String(SHA256.hex(Array(modelHash.utf8) + [0] + Array(text.utf8)).prefix(32))
    }
}
