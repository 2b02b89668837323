/// A prompt as the text encoder takes it: start token, content tokens, end token, padding.
public struct TokenizedPrompt: Sendable, Equatable {
    /// Exactly `length` ids: start, up to `length - 2` content tokens, end, then padding.
    public let ids: [Int]
    /// How many content tokens did not fit and were cut from the end (0 when none).
    public let truncatedTokenCount: Int
    /// The text of the cut tokens (decoded from them, so lower-cased and cleaned), or nil when
    /// nothing was cut. Meant for warnings such as "ignored: ...".
    public let droppedText: String?

    /// Whether part of the prompt was cut.
    public var wasTruncated: Bool { truncatedTokenCount > 0 }
}
