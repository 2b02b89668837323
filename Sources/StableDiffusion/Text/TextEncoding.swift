/// How prompt text is read before it is encoded.
public enum PromptSyntax: String, Codable, Sendable, CaseIterable {
    /// AUTOMATIC1111's rules (the default): emphasis `(word)`, `(word:1.3)`, `[word]`, escapes,
    /// `BREAK`, and prompts longer than 75 tokens encoded in 75-token chunks. A prompt that uses
    /// none of it and fits 75 tokens gives exactly the `literal` embedding.
    case a1111
    /// The text as diffusers encodes it: every character is text, at most 75 tokens (the rest is
    /// cut and reported).
    case literal
}

/// Everything besides the text and the model that decides a text embedding.
public struct TextEncoding: Hashable, Sendable {
    public var syntax: PromptSyntax
    /// A1111's "Clip skip": 1 = the text encoder's last layer, 2 = the penultimate one, ...
    public var clipSkip: Int

    public init(syntax: PromptSyntax = .a1111, clipSkip: Int = 1) {
        self.syntax = syntax
        self.clipSkip = clipSkip
    }

    /// diffusers' encoding of a prompt: literal text, the last layer.
    public static let literal = TextEncoding(syntax: .literal, clipSkip: 1)
    /// What a request without `prompt_syntax` and `clip_skip` gets.
    public static let standard = TextEncoding()

    /// What `EmbeddingKey` adds to its id for this encoding: empty for the standard one, so
    /// the ids of requests that set neither field are those of earlier versions.
    public var keyVariant: String {
        var parts: [String] = []
        if syntax != .a1111 { parts.append("syntax=\(syntax.rawValue)") }
        if clipSkip != 1 { parts.append("clip_skip=\(clipSkip)") }
        return parts.joined(separator: ";")
    }
}
