import Foundation
import XCTest
@testable import StableDiffusion

/// Paths of the committed files the tokenizer tests read, found from this source file's
/// location (tests run from any directory and never download anything).
enum TokenizerTestPaths {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Text
        .deletingLastPathComponent()  // StableDiffusionTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    static let shapesTokenizer = root.appendingPathComponent("models/shapes/tokenizer").path
    static let tokenizerCases = root.appendingPathComponent("Tests/StableDiffusionTests/Fixtures/tokenizer/cases.json")
}

/// `Fixtures/tokenizer/cases.json`, written by scripts/fixtures/make_tokenizer_fixtures.py from
/// transformers' CLIPTokenizer and the `tokenizers` library.
struct TokenizerFixture: Decodable {
    struct Case: Decodable {
        let text: String
        /// With start and end tokens, not truncated.
        let ids: [Int]
        let tokens: [String]
        /// Padded to 77 and truncated, as SD v1 pipelines call the tokenizer.
        let paddedIDs: [Int]

        enum CodingKeys: String, CodingKey {
            case text, ids, tokens
            case paddedIDs = "padded_ids"
        }
    }

    /// Character classes and mappings of the `tokenizers` pipeline over every scalar.
    struct UnicodeTables: Decodable {
        /// Inclusive [first, last] scalar ranges.
        let whitespace: [[UInt32]]
        let letters: [[UInt32]]
        let numbers: [[UInt32]]
        /// Scalar (as a decimal string) -> its lower-case mapping, for scalars that change.
        let lowercase: [String: [UInt32]]
        /// Scalar -> its NFC form as a one-scalar string, for scalars that change.
        let nfcSingle: [String: [UInt32]]
        /// Scalars the reference's NFC treats as combining marks (class > 0), as ranges.
        let nfcMarks: [[UInt32]]
        /// [first, second, NFC of the two] for every two-scalar canonical decomposition.
        let nfcPairs: [NFCPair]

        enum CodingKeys: String, CodingKey {
            case whitespace, letters, numbers, lowercase
            case nfcSingle = "nfc_single"
            case nfcMarks = "nfc_marks"
            case nfcPairs = "nfc_pairs"
        }
    }

    /// One `nfc_pairs` entry, written as a JSON array `[first, second, [result...]]`.
    struct NFCPair: Decodable {
        let first: UInt32
        let second: UInt32
        let composed: [UInt32]

        init(from decoder: Decoder) throws {
            var container = try decoder.unkeyedContainer()
            first = try container.decode(UInt32.self)
            second = try container.decode(UInt32.self)
            composed = try container.decode([UInt32].self)
        }
    }

    /// A seeded random prompt and its ids (start and end tokens, not truncated).
    struct RandomCase: Decodable {
        let text: String
        let ids: [Int]
    }

    let source: String
    let maxLength: Int
    let cases: [Case]
    let randomCases: [RandomCase]
    let unicode: UnicodeTables

    enum CodingKeys: String, CodingKey {
        case source, cases, unicode
        case maxLength = "max_length"
        case randomCases = "random_cases"
    }

    /// Every scalar of Unicode (surrogates have none), NUL excluded as in the fixture.
    static let allScalars: [Unicode.Scalar] = (1...0x10FFFF).compactMap { Unicode.Scalar(UInt32($0)) }

    static let shared: TokenizerFixture = {
        do {
            let data = try Data(contentsOf: TokenizerTestPaths.tokenizerCases)
            return try JSONDecoder().decode(TokenizerFixture.self, from: data)
        } catch {
            fatalError("cannot load \(TokenizerTestPaths.tokenizerCases.path): \(error)")
        }
    }()
}

/// The shapes model's tokenizer, loaded once for all tests.
enum SharedTokenizer {
    static let shapes: CLIPTokenizer = {
        do {
            return try CLIPTokenizer(directory: TokenizerTestPaths.shapesTokenizer)
        } catch {
            fatalError("cannot load the committed tokenizer: \(error)")
        }
    }()
}
