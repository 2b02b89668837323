import Foundation

/// The text clean-up CLIP's tokenizer applies before splitting a prompt into words, as
/// transformers' `CLIPTokenizer` (the `tokenizers` pipeline) does it:
/// 1. Unicode NFC composition (`cafe` + U+0301 becomes `café`);
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

    /// Unicode NFC of `text`.
    ///
    /// This is the standard library's NFC, not Foundation's `precomposedStringWithCanonicalMapping`:
    /// on Linux (Swift 6.3.1) the latter composes a supplementary-plane letter as if it were the
    /// BMP letter with the same low 16 bits (U+1042D + U+0308 became U+04EC), which a
    /// random-prompt comparison with transformers caught.
    static func composed(_ text: String) -> String {
        String(decoding: text._nfcCodeUnits, as: UTF8.self)
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
