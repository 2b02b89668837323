import Foundation
import XCTest
@testable import StableDiffusion

/// The fast `vocab.json` reader against Foundation's JSONDecoder.
final class VocabularyParserTests: XCTestCase {
    private func parsed(_ json: String) -> [String: Int]? {
        VocabularyParser.parse(Array(json.utf8))
    }

    func testCommittedVocabularyReadsExactlyAsJSONDecoderReadsIt() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TokenizerTestPaths.shapesTokenizer + "/vocab.json"))
        let fast = try XCTUnwrap(VocabularyParser.parse(Array(data)))
        let reference = try JSONDecoder().decode([String: Int].self, from: data)
        XCTAssertEqual(fast.count, 49_408)
        XCTAssertEqual(fast, reference)
    }

    func testEscapesDecodeLikeJSONDecoder() throws {
        let json = #"{"\"": 1, "\\": 2, "a\/b": 3, "\n\t\r\b\f": 4, "\u00e9\u0120": 5, "\ud83d\ude00</w>": 6, "é": 7}"#
        let reference = try JSONDecoder().decode([String: Int].self, from: Data(json.utf8))
        XCTAssertEqual(parsed(json), reference)
        XCTAssertEqual(parsed(json)?["😀</w>"], 6)
    }

    func testWhitespaceAndEmptyObjectsAreAccepted() {
        XCTAssertEqual(parsed(" {\n  \"a\" : 0 ,\r\n\t\"b\":-12 }\n"), ["a": 0, "b": -12])
        XCTAssertEqual(parsed("{}"), [:])
    }

    func testDuplicateKeysKeepTheLastValue() {
        XCTAssertEqual(parsed(#"{"a": 1, "a": 2}"#), ["a": 2])
    }

    func testAnythingElseIsLeftToJSONDecoder() {
        for json in [#"{"a": 1.5}"#, #"{"a": 1e3}"#, #"{"a": 01}"#, #"{"a": "1"}"#, #"{"a": 1,}"#, #"{"a": 1} x"#,
                     #"["a"]"#, #"{"a\x": 1}"#, "{\"a\u{1}\": 1}", #"{"\ud83d": 1}"#, #"{"a": 99999999999999999999}"#, "{"] {
            XCTAssertNil(parsed(json), json)
        }
    }
}
