import Foundation

/// The text clean-up CLIP's tokenizer applies before splitting a prompt into words, as
/// transformers' `CLIPTokenizer` (the `tokenizers` pipeline) does it:
/// 1. Unicode NFC composition (`cafe` + U+0301 becomes `café`), with the reference's Unicode 9.0
///    normalization data (see `composed`);
/// 2. every run of white space (Unicode `White_Space`: spaces, tabs, newlines, NBSP, ...)
///    becomes one space;
/// 3. lower-casing, character by character with Unicode's full mappings (`İ` becomes `i` and
///    U+0307; a final `Σ` becomes `σ`, not `ς`, because no context is looked at).
///
/// OpenAI's original CLIP also runs `ftfy.fix_text` and HTML unescaping first; transformers 5
/// does not, and neither does sdcluster (see docs/tokenizer.md).
enum TextCleaner {
    /// The cleaned text as Unicode scalars, ready for `PreTokenizer`.
    static func clean(_ text: Substring) -> [Unicode.Scalar] {
        let composed = composed(String(text))
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(composed.unicodeScalars.count)
        var inWhitespace = false
        for scalar in composed.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !inWhitespace { result.append(" ") }
                inWhitespace = true
                continue
            }
            inWhitespace = false
            appendLowercased(scalar, to: &result)
        }
        return result
    }

    /// Unicode NFC of `text`, as the reference computes it.
    ///
    /// The `tokenizers` library normalizes with Unicode 9.0 data (its frozen
    /// `unicode-normalization-alignments` fork), while its other tables are current. To it, a
    /// character added after 9.0 has combining class 0 and no decomposition, so it is a hard
    /// boundary: nothing is reordered or composed across it. The text is therefore composed
    /// piece by piece between such characters; within a piece of Unicode 9.0 characters, NFC
    /// is the same in every later version (Unicode's normalization stability policy). The tests
    /// check the combining marks and every two-scalar composition against the library.
    ///
    /// The composing itself is the standard library's, not Foundation's
    /// `precomposedStringWithCanonicalMapping`: on Linux (Swift 6.3.1) the latter composes a
    /// supplementary-plane letter as if it were the BMP letter with the same low 16 bits
    /// (U+1042D + U+0308 became U+04EC).
    static func composed(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }  // ASCII is always NFC
        var result = ""
        var piece = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isNewerThanNormalizationData(scalar) else {
                piece.append(scalar)
                continue
            }
            result += String(decoding: String(piece)._nfcCodeUnits, as: UTF8.self)
            result.unicodeScalars.append(scalar)
            piece = String.UnicodeScalarView()
        }
        return result + String(decoding: String(piece)._nfcCodeUnits, as: UTF8.self)
    }

    /// The Unicode version of the reference's normalization data.
    static let referenceNormalizationVersion = (major: 9, minor: 0)

    /// Whether the reference's normalization does not know `scalar` (unassigned ones included:
    /// they are boundaries for everyone).
    static func isNewerThanNormalizationData(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return (age.major, age.minor) > referenceNormalizationVersion
    }

    /// Appends the full lower-case mapping of one scalar (one or more scalars).
    static func appendLowercased(_ scalar: Unicode.Scalar, to result: inout [Unicode.Scalar]) {
        // ASCII first: nearly every prompt is ASCII, and this skips building a String per scalar.
        if scalar.isASCII {
            let value = scalar.value
            result.append((65...90).contains(value) ? Unicode.Scalar(value + 32)! : scalar)
            return
        }
        let properties = scalar.properties
        if !properties.changesWhenLowercased {
            result.append(scalar)
            return
        }
        result.append(contentsOf: properties.lowercaseMapping.unicodeScalars)
    }
}
