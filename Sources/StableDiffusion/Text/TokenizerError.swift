import Foundation

/// Why a tokenizer folder could not be loaded; each message says what to fix.
public enum TokenizerError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A required file (`vocab.json`, `merges.txt`) is not in the folder.
    case missingFile(path: String)
    /// A file exists but could not be read or decoded.
    case unreadableFile(path: String, reason: String)
    /// A line of `merges.txt` is not two space-separated tokens.
    case malformedMerge(path: String, line: Int, text: String)
    /// A merge of `merges.txt`, one of its parts or their join has no id in `vocab.json`.
    case mergeNotInVocabulary(line: Int, left: String, right: String)
    /// A special token named by the configuration has no id in `vocab.json`.
    case specialTokenNotInVocabulary(role: String, token: String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "\(path) not found: a CLIP tokenizer folder needs vocab.json and merges.txt "
                + "(a diffusers model folder keeps them in tokenizer/)."
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason). Check that the file is complete and valid UTF-8 / JSON."
        case .malformedMerge(let path, let line, let text):
            return "\(path) line \(line) is not a merge (two tokens separated by one space): \"\(text)\"."
        case .mergeNotInVocabulary(let line, let left, let right):
            return "merges.txt line \(line) (\"\(left) \(right)\") uses tokens missing from vocab.json: "
                + "the two files do not belong together."
        case .specialTokenNotInVocabulary(let role, let token):
            return "the \(role) token \"\(token)\" is not in vocab.json: fix tokenizer_config.json "
                + "or special_tokens_map.json."
        }
    }

    public var errorDescription: String? { description }
}
