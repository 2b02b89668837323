import Foundation

/// The contents of a CLIP tokenizer folder, as transformers reads it: `vocab.json`,
/// `merges.txt`, and optionally `tokenizer_config.json` / `special_tokens_map.json`
/// (special tokens and `model_max_length`; the latter file wins where both name a token).
struct TokenizerFiles {
    var vocabulary: [String: Int]
    /// Merges in rank order (the `#version` header line left out).
    var merges: [(String, String)]
    var startToken = "<|startoftext|>"
    var endToken = "<|endoftext|>"
    var padToken = "<|endoftext|>"
    var unknownToken = "<|endoftext|>"
    var modelMaxLength = 77

    /// Reads and checks the files of `directory`.
    static func read(directory: String) throws -> TokenizerFiles {
        let folder = URL(fileURLWithPath: directory)
        let vocabularyPath = folder.appendingPathComponent("vocab.json").path
        let mergesPath = folder.appendingPathComponent("merges.txt").path
        var files = TokenizerFiles(
            vocabulary: try readVocabulary(vocabularyPath),
            merges: try readMerges(mergesPath))
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let path = folder.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path) {
                try files.applyConfiguration(readJSONObject(path))
            }
        }
        return files
    }

    private static func readData(_ path: String) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw TokenizerError.missingFile(path: path) }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.unreadableFile(path: path, reason: error.localizedDescription)
        }
    }

    private static func readVocabulary(_ path: String) throws -> [String: Int] {
        let data = try readData(path)
        if let vocabulary = VocabularyParser.parse(Array(data)) { return vocabulary }
        do {
            return try JSONDecoder().decode([String: Int].self, from: data)
        } catch {
            throw TokenizerError.unreadableFile(path: path, reason: "not a JSON object of token -> id (\(error))")
        }
    }

    /// Merge lines as byte slices: about three times faster than splitting a String.
    private static func readMerges(_ path: String) throws -> [(String, String)] {
        let bytes = Array(try readData(path))
        var merges: [(String, String)] = []
        merges.reserveCapacity(bytes.count / 10)
        for (index, rawLine) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine
            if line.isEmpty || (index == 0 && line.starts(with: Array("#version".utf8))) { continue }
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError.malformedMerge(path: path, line: index + 1, text: String(decoding: line, as: UTF8.self))
            }
            guard let left = String(validating: parts[0], as: UTF8.self),
                  let right = String(validating: parts[1], as: UTF8.self) else {
                throw TokenizerError.unreadableFile(path: path, reason: "line \(index + 1) is not UTF-8")
            }
            merges.append((left, right))
        }
        return merges
    }

    private static func readJSONObject(_ path: String) throws -> [String: Any] {
        let data = try readData(path)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TokenizerError.unreadableFile(path: path, reason: "not a JSON object")
        }
        return object
    }

    /// Takes special tokens (a string, or an object with `content`) and `model_max_length`.
    private mutating func applyConfiguration(_ object: [String: Any]) {
        func token(_ key: String) -> String? {
            if let text = object[key] as? String { return text }
            return (object[key] as? [String: Any])?["content"] as? String
        }
        startToken = token("bos_token") ?? startToken
        endToken = token("eos_token") ?? endToken
        padToken = token("pad_token") ?? padToken
        unknownToken = token("unk_token") ?? unknownToken
        // Some configurations write "no limit" as 1e30; such values keep the SD v1 length.
        if let length = object["model_max_length"] as? Double, length >= 2, length <= 1_000_000 {
            modelMaxLength = Int(length)
        }
    }
}
