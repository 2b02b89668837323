import Foundation
import XCTest
@testable import StableDiffusion

/// Loading a tokenizer folder, and the errors for folders that are not one.
final class TokenizerFilesTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// A tiny byte-level vocabulary: the 256 byte characters, the same with `</w>`, a few merges.
    private func writeTinyTokenizer(merges: [String], extra: [String]) throws {
        var vocabulary: [String: Int] = [:]
        for (byte, character) in ByteCharacters.characters.enumerated() {
            vocabulary[String(character)] = byte
            vocabulary[String(character) + "</w>"] = 256 + byte
        }
        for token in extra + ["<|startoftext|>", "<|endoftext|>"] { vocabulary[token] = vocabulary.count }
        try write("vocab.json", String(decoding: try JSONEncoder().encode(vocabulary), as: UTF8.self))
        try write("merges.txt", (["#version: 0.2"] + merges).joined(separator: "\n") + "\n")
    }

    func testMissingFolderReportsMissingVocabulary() {
        let path = folder.appendingPathComponent("nope").path
        XCTAssertThrowsError(try CLIPTokenizer(directory: path)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: path + "/vocab.json"))
        }
    }

    func testMergeLineWithoutTwoPartsIsReportedWithItsLineNumber() throws {
        try writeTinyTokenizer(merges: ["a b", "abc"], extra: ["ab"])
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder.path)) { error in
            XCTAssertEqual(error as? TokenizerError,
                           .malformedMerge(path: self.folder.appendingPathComponent("merges.txt").path, line: 3, text: "abc"))
        }
    }

    func testMergeOutsideTheVocabularyIsReported() throws {
        try writeTinyTokenizer(merges: ["a b", "x y"], extra: ["ab"])
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder.path)) { error in
            XCTAssertEqual(error as? TokenizerError, .mergeNotInVocabulary(line: 3, left: "x", right: "y"))
        }
    }

    func testMergesApplyBestRankFirstAndMarkTheWordEnd() throws {
        // "ab</w>" only exists through the merge of "a" and "b</w>"; "ab" (without end) would be
        // built by the rank-0 merge if "b" were not the last symbol.
        try writeTinyTokenizer(merges: ["a b", "a b</w>", "ab c</w>"], extra: ["ab", "ab</w>", "abc</w>"])
        let tokenizer = try CLIPTokenizer(directory: folder.path)
        XCTAssertEqual(tokenizer.tokenStrings(tokenizer.encode("ab abc abab")),
                       ["ab</w>", "abc</w>", "ab", "ab</w>"])
    }

    func testConfigurationSetsLengthAndPaddingToken() throws {
        try writeTinyTokenizer(merges: [], extra: [])
        try write("tokenizer_config.json", #"{"model_max_length": 12, "pad_token": {"content": "!"}}"#)
        let tokenizer = try CLIPTokenizer(directory: folder.path)
        XCTAssertEqual(tokenizer.modelMaxLength, 12)
        let exclamation = try XCTUnwrap(tokenizer.id(of: "!"))
        XCTAssertEqual(tokenizer.padID, exclamation)
        XCTAssertEqual(tokenizer.tokenize("a", length: 5).ids,
                       [tokenizer.startID, try XCTUnwrap(tokenizer.id(of: "a</w>")), tokenizer.endID, exclamation, exclamation])
    }

    func testUnknownSpecialTokenIsReported() throws {
        try writeTinyTokenizer(merges: [], extra: [])
        try write("special_tokens_map.json", #"{"pad_token": "<pad>"}"#)
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder.path)) { error in
            XCTAssertEqual(error as? TokenizerError, .specialTokenNotInVocabulary(role: "padding", token: "<pad>"))
        }
    }
}
