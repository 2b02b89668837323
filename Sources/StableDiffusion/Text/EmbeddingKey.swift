/// What a text embedding depends on: the model's text encoder (by the model's content hash), the
/// text, and how it is read (`variant`: prompt syntax, clip skip, textual-inversion files),
/// nothing else (not the image, not the slot). Equal keys, equal embeddings, so the empty
/// negative prompt that nearly every image shares is encoded and shipped once.
public struct EmbeddingKey: Hashable, Sendable {
    /// `ModelLocation.contentHash` (the cluster's `HostedModel.contentHash`).
    public let modelHash: String
    public let text: String
    /// `TextEncoding.keyVariant` plus `PreparedPrompt.keyVariant`; empty for the standard
    /// encoding of a prompt without embeddings.
    public let variant: String

    public init(modelHash: String, text: String, variant: String = "") {
        self.modelHash = modelHash
        self.text = text
        self.variant = variant
    }

    /// The key as a short id, the same on every machine and in every run: 32 hexadecimal digits
    /// (128 bits) of SHA-256 over the model hash, a NUL and the text's UTF-8, then, when there is
    /// a variant, the byte 0xFF and the variant (so the standard encoding keeps the ids it always
    /// had; 0xFF never occurs in UTF-8, so no text can imitate a variant). The cluster's
    /// embedding ids on the wire are these (docs/protocol.md).
    public var id: String {
        var bytes = Array(modelHash.utf8) + [0] + Array(text.utf8)
        if !variant.isEmpty { bytes += [0xFF] + Array(variant.utf8) }
        return String(SHA256.hex(bytes).prefix(32))
    }
}
