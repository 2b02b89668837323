import Foundation

/// CLIP's byte-level BPE tokenizer, with the behaviour of transformers' `CLIPTokenizer`
/// (checked token for token against it by the tests).
///
/// A prompt goes through: special tokens written in it (`<|startoftext|>`, `<|endoftext|>`,
/// exactly so spelled) are taken out as they are; the text between them is cleaned
/// (`TextCleaner`), split into words (`PreTokenizer`) and each word byte-pair encoded
/// (`BytePairEncoder`).
public struct CLIPTokenizer: Sendable {
    /// Token string -> id, and id -> token string.
    private let vocabulary: [String: Int]
    private let tokensByID: [String?]
    private let encoder: BytePairEncoder
    /// Special tokens recognised inside prompt text, with their ids and UTF-8 spellings.
    private let specialTokens: [(bytes: [UInt8], id: Int)]

    /// The id of `<|startoftext|>` (49406 for CLIP).
    public let startID: Int
    /// The id of `<|endoftext|>` (49407 for CLIP).
    public let endID: Int
    /// The id that pads a prompt to its full length (the end token for SD v1).
    public let padID: Int
    /// `model_max_length` of the configuration (77 for SD v1).
    public let modelMaxLength: Int

    /// Loads `vocab.json` and `merges.txt` (and `tokenizer_config.json` /
    /// `special_tokens_map.json` when present) from a tokenizer folder. `padToken` replaces the
    /// files' padding token (SD 2.x pads with "!" where SD 1.x's files say the end token).
    /// - Throws: `TokenizerError` naming the file and what is wrong with it.
    public init(directory: String, padToken: String? = nil) throws {
        var files = try TokenizerFiles.read(directory: directory)
        if let padToken { files.padToken = padToken }
        func id(_ role: String, _ token: String) throws -> Int {
            guard let id = files.vocabulary[token] else {
                throw TokenizerError.specialTokenNotInVocabulary(role: role, token: token)
            }
            return id
        }
        startID = try id("start", files.startToken)
        endID = try id("end", files.endToken)
        padID = try id("padding", files.padToken)
        let unknownID = try id("unknown", files.unknownToken)
        modelMaxLength = files.modelMaxLength
        vocabulary = files.vocabulary
        tokensByID = Self.tokensByID(files.vocabulary)
        encoder = try BytePairEncoder(vocabulary: files.vocabulary, merges: files.merges, unknownID: unknownID)
        let special = [(files.startToken, startID), (files.endToken, endID), (files.padToken, padID),
                       (files.unknownToken, unknownID)]
        // Longest first, so that a spelling that contains another wins where both start.
        specialTokens = Dictionary(special, uniquingKeysWith: { first, _ in first })
            .filter { !$0.key.isEmpty }
            .map { (bytes: Array($0.key.utf8), id: $0.value) }
            .sorted { $0.bytes.count > $1.bytes.count }
    }

    /// The ids of `text`'s tokens: no start or end token, not truncated.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        let bytes = Array(text.utf8)
        var segmentStart = 0
        var position = 0
        while position < bytes.count {
            guard let special = specialToken(in: bytes, at: position) else {
                position += 1
                continue
            }
            encodeText(bytes[segmentStart..<position], into: &ids)
            ids.append(special.id)
            position += special.bytes.count
            segmentStart = position
        }
        encodeText(bytes[segmentStart..<bytes.count], into: &ids)
        return ids
    }

    /// The ids an SD v1 text encoder takes: start token, at most `length - 2` content tokens,
    /// end token, then padding up to `length` (77 for SD v1).
    public func tokenize(_ text: String, length: Int = 77) -> TokenizedPrompt {
        precondition(length >= 2, "a tokenized prompt needs room for its start and end tokens")
        let content = encode(text)
        let kept = content.prefix(length - 2)
        let dropped = content.dropFirst(length - 2)
        var ids = [startID] + kept + [endID]
        ids += repeatElement(padID, count: length - ids.count)
        return TokenizedPrompt(ids: ids, truncatedTokenCount: dropped.count,
                               droppedText: dropped.isEmpty ? nil : decode(Array(dropped)))
    }

    /// The vocabulary strings of `ids`, as transformers' `convert_ids_to_tokens` gives them
    /// (byte characters, `</w>` marking word ends); unknown ids give "<unk:ID>".
    public func tokenStrings(_ ids: [Int]) -> [String] {
        ids.map { token(of: $0) ?? "<unk:\($0)>" }
    }

    /// Readable text for `ids`: special tokens left out, word ends turned into spaces, bytes
    /// decoded as UTF-8 (invalid sequences become U+FFFD).
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id != startID && id != endID && id != padID {
            guard let token = token(of: id) else { continue }
            let isWordEnd = token.hasSuffix(BytePairEncoder.endOfWord)
            let body = isWordEnd ? String(token.dropLast(BytePairEncoder.endOfWord.count)) : token
            bytes += body.unicodeScalars.compactMap { ByteCharacters.bytes[$0] }
            if isWordEnd { bytes.append(0x20) }
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// The id of a vocabulary token, or nil.
    public func id(of token: String) -> Int? {
        vocabulary[token]
    }

    private func token(of id: Int) -> String? {
        tokensByID.indices.contains(id) ? tokensByID[id] : nil
    }

    /// The vocabulary inverted into an array (ids are dense from 0 in every BPE vocabulary;
    /// a negative or absurdly large id is left out rather than trusted).
    private static func tokensByID(_ vocabulary: [String: Int]) -> [String?] {
        let largest = vocabulary.values.filter { $0 < 10_000_000 }.max() ?? -1
        var tokens = [String?](repeating: nil, count: largest + 1)
        for (token, id) in vocabulary where id >= 0 && id <= largest && tokens[id] == nil {
            tokens[id] = token
        }
        return tokens
    }

    private func specialToken(in bytes: [UInt8], at position: Int) -> (bytes: [UInt8], id: Int)? {
        // Every special spelling starts with "<" in CLIP; checking the first byte keeps this cheap.
        specialTokens.first { special in
            position + special.bytes.count <= bytes.count
                && bytes[position] == special.bytes[0]
                && bytes[position..<position + special.bytes.count].elementsEqual(special.bytes)
        }
    }

    private func encodeText(_ bytes: ArraySlice<UInt8>, into ids: inout [Int]) {
        guard !bytes.isEmpty else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        let cleaned = TextCleaner.clean(Substring(text))
        for word in PreTokenizer.words(cleaned) {
            var utf8: [UInt8] = []
            for scalar in cleaned[word] {
                utf8.append(contentsOf: UTF8.encode(scalar)!)
            }
            ids += encoder.encode(word: utf8)
        }
    }
}
