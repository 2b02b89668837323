/// A piece of prompt text with the emphasis (attention multiplier) it carries.
public struct WeightedText: Sendable, Equatable, CustomStringConvertible {
    public var text: String
    /// The multiplier, as a Python float (a double): A1111 multiplies nested brackets in doubles
    /// and only the finished product becomes a 32-bit float.
    public var weight: Double

    public init(_ text: String, _ weight: Double) {
        self.text = text
        self.weight = weight
    }

    /// A1111's marker for `BREAK` (the text "BREAK" with weight exactly -1): start a new chunk.
    /// A `BREAK` inside brackets has its -1 multiplied and is then plain text, as in A1111.
    public var isBreak: Bool { text == "BREAK" && weight == -1 }

    public var description: String { "[\(text.debugDescription), \(weight)]" }
}

/// AUTOMATIC1111's prompt emphasis syntax (`modules/prompt_parser.py`, `parse_prompt_attention`),
/// rule for rule:
///
/// - `(text)` multiplies the weight of `text` by 1.1, `[text]` by 1/1.1, `(text:1.3)` by 1.3;
///   brackets nest and the multipliers multiply.
/// - `\(`, `\)`, `\[`, `\]`, `\\` are the characters themselves; any other backslash vanishes.
/// - An unclosed `(` or `[` applies to everything after it; a `)` or `]` with nothing open is text.
/// - `BREAK` (a whole word, with the spaces around it) ends the chunk (`WeightedText.isBreak`).
/// - Neighbouring pieces of equal weight are merged; an empty prompt is one empty piece of 1.0.
///
/// One deliberate difference: where A1111 crashes on a weight Python's `float` cannot read
/// (`(a:1.2.3)`, `(a:.)`), the `:1.2.3)` is kept as text here.
public enum PromptAttention {
    static let roundMultiplier = 1.1
    static let squareMultiplier = 1 / 1.1

    /// The pieces of `text` and their weights (see the type's rules).
    public static func parse(_ text: String) -> [WeightedText] {
        var result: [WeightedText] = []
        var round: [Int] = []
        var square: [Int] = []
        func multiply(from start: Int, by multiplier: Double) {
            for p in start..<result.count { result[p].weight *= multiplier }
        }
        for token in PromptAttentionLexer.tokens(text) {
            switch token {
            case .escaped(let literal):
                result.append(WeightedText(literal, 1))
            case .openRound:
                round.append(result.count)
            case .openSquare:
                square.append(result.count)
            case .weightClose(let weight, let spelling):
                if let weight, let start = round.popLast() {
                    multiply(from: start, by: weight)
                } else {
                    appendText(spelling, to: &result)
                }
            case .closeRound:
                if let start = round.popLast() { multiply(from: start, by: roundMultiplier) } else { appendText(")", to: &result) }
            case .closeSquare:
                if let start = square.popLast() { multiply(from: start, by: squareMultiplier) } else { appendText("]", to: &result) }
            case .text(let plain):
                appendText(plain, to: &result)
            }
        }
        // Unclosed brackets, oldest first, as A1111 walks its lists.
        for start in round { multiply(from: start, by: roundMultiplier) }
        for start in square { multiply(from: start, by: squareMultiplier) }
        if result.isEmpty { result = [WeightedText("", 1)] }
        return merged(result)
    }

    /// Text goes in split at each `BREAK`, with the marker between the parts (A1111's `re_break`
    /// split: a part may be empty).
    private static func appendText(_ text: String, to result: inout [WeightedText]) {
        for (i, part) in BreakSplitter.split(text).enumerated() {
            if i > 0 { result.append(WeightedText("BREAK", -1)) }
            result.append(WeightedText(part, 1))
        }
    }

    /// Runs of equal weight joined into one piece (exact equality of the doubles, as in A1111).
    private static func merged(_ pieces: [WeightedText]) -> [WeightedText] {
        var out: [WeightedText] = []
        for piece in pieces {
            if let last = out.last, last.weight == piece.weight {
                out[out.count - 1].text += piece.text
            } else {
                out.append(piece)
            }
        }
        return out
    }

    /// Whether `text` uses nothing of the syntax: parsed, it is the text itself at weight 1 in
    /// one piece. Such a prompt, if it also fits one chunk, is encoded exactly as diffusers does.
    public static func isPlain(_ text: String) -> Bool {
        parse(text) == [WeightedText(text, 1)]
    }
}
