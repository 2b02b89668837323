/// Splits cleaned text into the words that byte-pair encoding works on, as transformers'
/// `CLIPTokenizer` does in two passes.
///
/// Pass 1 is CLIP's pattern, tried in this order at each position (white space is dropped):
///
///     <|startoftext|> | <|endoftext|> | 's | 't | 're | 've | 'm | 'll | 'd
///     | letters+ | one number character | (not space, letter or number)+
///
/// Pass 2 is the byte-level pre-tokenizer's GPT-2 pattern, applied inside each piece of pass 1:
/// contractions, letters+, numbers+, other+. It only changes the special-token spellings that
/// pass 1 keeps whole (`<|endoftext|>` written in another case, which lower-casing turned into
/// the literal): they become `<|`, `endoftext`, `|>`. Special tokens written exactly are taken
/// out before cleaning and never get here (see `CLIPTokenizer`).
///
/// Letters are Unicode general category L*, numbers N*, space is the `White_Space` property:
/// the same classes as the Oniguruma regex engine in `tokenizers` (checked over every scalar
/// by the tests), up to that engine's Unicode version.
enum PreTokenizer {
    /// The ranges of `text` that are words, in order.
    static func words(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var position = 0
        while position < text.count {
            guard let end = clipMatchEnd(text, at: position) else {
                position += 1  // white space: not part of any word
                continue
            }
            splitGPT2(text, position..<end, into: &words)
            position = end
        }
        return words
    }

    private static let specialSpellings: [[Unicode.Scalar]] =
        ["<|startoftext|>", "<|endoftext|>"].map { Array($0.unicodeScalars) }
    private static let contractions: [[Unicode.Scalar]] =
        ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }
    private static let clipLiterals = specialSpellings + contractions

    /// Where the CLIP pattern's match starting at `start` ends, or nil at white space.
    private static func clipMatchEnd(_ text: [Unicode.Scalar], at start: Int) -> Int? {
        for literal in clipLiterals where hasPrefix(text, literal, at: start, before: text.count) {
            return start + literal.count
        }
        switch CLIPCharacterClass(text[start]) {
        case .whitespace: return nil
        case .letter: return runEnd(text, from: start, in: start..<text.count, of: .letter)
        case .number: return start + 1
        case .other: return runEnd(text, from: start, in: start..<text.count, of: .other)
        }
    }

    /// Splits one CLIP piece by the GPT-2 pattern and appends the parts.
    private static func splitGPT2(_ text: [Unicode.Scalar], _ piece: Range<Int>, into words: inout [Range<Int>]) {
        var position = piece.lowerBound
        while position < piece.upperBound {
            if let contraction = contractions.first(where: {
                hasPrefix(text, $0, at: position, before: piece.upperBound)
            }) {
                words.append(position..<position + contraction.count)
                position += contraction.count
                continue
            }
            // A CLIP piece holds no white space, so every character starts a run of its class.
            let end = runEnd(text, from: position, in: piece, of: CLIPCharacterClass(text[position]))
            words.append(position..<end)
            position = end
        }
    }

    private static func hasPrefix(_ text: [Unicode.Scalar], _ literal: [Unicode.Scalar], at start: Int,
                                  before end: Int) -> Bool {
        guard start + literal.count <= end else { return false }
        for offset in 0..<literal.count where text[start + offset] != literal[offset] {
            return false
        }
        return true
    }

    private static func runEnd(_ text: [Unicode.Scalar], from start: Int, in bounds: Range<Int>,
                               of kind: CLIPCharacterClass) -> Int {
        var end = start
        while end < bounds.upperBound && CLIPCharacterClass(text[end]) == kind {
            end += 1
        }
        return end
    }
}

/// The character classes the CLIP and GPT-2 patterns are written in.
enum CLIPCharacterClass: Equatable {
    case whitespace, letter, number, other

    /// The Unicode version of the regex engine (Oniguruma) in the `tokenizers` library that
    /// transformers' CLIPTokenizer runs on. Swift 6.3 knows Unicode 17, whose new letters and
    /// digits that engine still treats as unassigned symbols; pinning the version keeps prompts
    /// with them tokenized exactly as the reference does.
    static let referenceUnicodeVersion = (major: 16, minor: 0)

    init(_ scalar: Unicode.Scalar) {
        if scalar.isASCII {
            // ASCII fast path; the same answers as the Unicode properties below.
            switch scalar.value {
            case 0x41...0x5A, 0x61...0x7A: self = .letter
            case 0x30...0x39: self = .number
            case 0x09...0x0D, 0x20: self = .whitespace
            default: self = .other
            }
            return
        }
        let properties = scalar.properties
        if properties.isWhitespace {
            self = .whitespace
            return
        }
        // Characters newer than the reference's Unicode tables are unassigned there.
        guard let age = properties.age, (age.major, age.minor) <= Self.referenceUnicodeVersion else {
            self = .other
            return
        }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        default:
            self = .other
        }
    }
}
