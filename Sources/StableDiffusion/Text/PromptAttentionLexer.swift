/// The tokens of A1111's `re_attention` pattern, matched the way Python's `re.finditer` matches
/// its alternatives (first alternative that fits, at each position in turn). Works on Unicode
/// scalars, as Python's `str` does on code points.
enum PromptAttentionLexer {
    enum Token: Equatable {
        /// `\(`, `\)`, `\[`, `\]`, `\\` give the character; a lone `\` gives "".
        case escaped(String)
        case openRound, openSquare, closeRound, closeSquare
        /// `:NUMBER)`: the weight Python's `float` reads from NUMBER (nil if it cannot), and the
        /// spelling, which is text when no `(` is open.
        case weightClose(Double?, spelling: String)
        /// A run of anything but `\ ( ) [ ] :`, or a `:` that starts no weight.
        case text(String)
    }

    static func tokens(_ text: String) -> [Token] {
        let s = Array(text.unicodeScalars)
        var out: [Token] = []
        var i = 0
        while i < s.count {
            switch s[i] {
            case "\\":
                if i + 1 < s.count, "()[]\\".unicodeScalars.contains(s[i + 1]) {
                    out.append(.escaped(String(s[i + 1])))
                    i += 2
                } else {
                    out.append(.escaped(""))
                    i += 1
                }
            case "(": out.append(.openRound); i += 1
            case "[": out.append(.openSquare); i += 1
            case ")": out.append(.closeRound); i += 1
            case "]": out.append(.closeSquare); i += 1
            case ":":
                if let end = weightEnd(s, colon: i) {
                    let number = String(String.UnicodeScalarView(s[(i + 1)..<(end - 1)]))
                    out.append(.weightClose(pythonFloat(number), spelling: String(String.UnicodeScalarView(s[i..<end]))))
                    i = end
                } else {
                    out.append(.text(":"))
                    i += 1
                }
            default:
                var end = i
                while end < s.count, !"\\()[]:".unicodeScalars.contains(s[end]) { end += 1 }
                out.append(.text(String(String.UnicodeScalarView(s[i..<end]))))
                i = end
            }
        }
        return out
    }

    /// Where `:([+-]?[.\d]+)\)` starting at `colon` ends (one past its `)`), or nil when it does
    /// not match there.
    private static func weightEnd(_ s: [Unicode.Scalar], colon: Int) -> Int? {
        var j = colon + 1
        if j < s.count, s[j] == "+" || s[j] == "-" { j += 1 }
        let digitsStart = j
        while j < s.count, s[j] == "." || isDecimalDigit(s[j]) { j += 1 }
        guard j > digitsStart, j < s.count, s[j] == ")" else { return nil }
        return j + 1
    }

    /// Python's `\d` on `str`: any decimal digit (category Nd), not only 0-9.
    static func isDecimalDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.numericType == .decimal
    }

    /// Python's `float()` of what the weight pattern matched (sign, digits of any script, dots):
    /// digits are read by their value, so `float("١.٥")` is 1.5 as in Python; nil where Python
    /// raises (no digit, two dots).
    static func pythonFloat(_ text: String) -> Double? {
        var ascii = ""
        for scalar in text.unicodeScalars {
            if scalar == "+" || scalar == "-" || scalar == "." {
                ascii.unicodeScalars.append(scalar)
            } else if let value = scalar.properties.numericValue, isDecimalDigit(scalar) {
                ascii += String(Int(value))
            } else {
                return nil
            }
        }
        guard ascii.filter({ $0 == "." }).count <= 1, ascii.contains(where: \.isNumber) else { return nil }
        return Double(ascii)
    }
}

/// A1111's `re_break`, `\s*\bBREAK\b\s*`, as Python's `re.split` applies it: the text between
/// the matches (possibly empty), with Python's Unicode meaning of `\s` and `\b`.
enum BreakSplitter {
    static func split(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        let word = Array("BREAK".unicodeScalars)
        var parts: [String] = []
        var partStart = 0
        var i = 0
        while i < s.count {
            // A match starts at the first of the spaces before BREAK, or at BREAK itself.
            var b = i
            while b < s.count, isPythonSpace(s[b]) { b += 1 }
            let fits = b + word.count <= s.count && Array(s[b..<(b + word.count)]) == word
                && (b == 0 || !isPythonWordCharacter(s[b - 1]))
                && (b + word.count == s.count || !isPythonWordCharacter(s[b + word.count]))
            guard fits else {
                i = b > i ? b : i + 1  // later starts in the same run of spaces reach the same BREAK
                continue
            }
            var end = b + word.count
            while end < s.count, isPythonSpace(s[end]) { end += 1 }
            parts.append(String(String.UnicodeScalarView(s[partStart..<i])))
            partStart = end
            i = end
        }
        parts.append(String(String.UnicodeScalarView(s[partStart..<s.count])))
        return parts
    }

    /// Python's `str.isspace` (what `\s` matches): Unicode White_Space plus the separators
    /// U+001C to U+001F, which Python counts and Unicode does not.
    static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
        c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
    }

    /// Python's `\w` on `str`: letters, anything numeric, and `_`.
    static func isPythonWordCharacter(_ c: Unicode.Scalar) -> Bool {
        if c == "_" || c.properties.numericType != nil { return true }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
}
