import XCTest
@testable import StableDiffusion

/// `PromptChunker` against A1111's `tokenize_line` rules, with the CLIP tokenizer of tiny-sd
/// (the full 49408-token vocabulary): "cat", "dog" and "," are one token each, so the expected
/// chunks below are written out token by token.
final class PromptChunkerTests: XCTestCase {
    static let tokenizer = PromptEncoderTests.pipeline.tokenizer
    var t: CLIPTokenizer { Self.tokenizer }
    var cat: Int { t.id(of: "cat</w>")! }
    var dog: Int { t.id(of: "dog</w>")! }
    var comma: Int { t.id(of: ",</w>")! }

    private func chunks(_ text: String) throws -> [PromptChunk] {
        try PromptChunker(tokenizer: t).chunks(PromptAttention.parse(text))
    }

    /// `[start] + content + [end]` padded with the end token to 77.
    private func chunk(_ content: [Int]) -> [Int] {
        [t.startID] + content + Array(repeating: t.endID, count: 76 - content.count)
    }

    private func words(_ word: String, _ n: Int) -> String { Array(repeating: word, count: n).joined(separator: " ") }

    func testTheWordsUsedAreOneTokenEach() {
        XCTAssertEqual(t.encode("cat dog ,"), [cat, dog, comma])
    }

    func testSeventyFiveTokensAreOneChunkAndSeventySixAreTwo() throws {
        let one = try chunks(words("cat", 75))
        XCTAssertEqual(one.map(\.tokens), [chunk(Array(repeating: cat, count: 75))])
        let two = try chunks(words("cat", 76))
        XCTAssertEqual(two.map(\.tokens), [chunk(Array(repeating: cat, count: 75)), chunk([cat])])
        XCTAssertTrue(two.allSatisfy { $0.multipliers == Array(repeating: 1, count: 77) })
    }

    func testAPlainShortPromptGivesTheTokenizersPaddedIds() throws {
        for prompt in ["a red circle on a blue background", "", "smile :) a:b", "a photo of a cat, 4k"] {
            XCTAssertEqual(try chunks(prompt).map(\.tokens), [t.tokenize(prompt).ids], prompt)
        }
    }

    func testTheTextAfterTheLastCommaMovesOnWhenItIsWithinTwentyTokens() throws {
        // 70 cats, a comma at index 70, 4 cats fill the chunk; the 5th cat finds it full with the
        // comma 5 tokens back: the 4 cats after the comma move to the next chunk.
        let got = try chunks(words("cat", 70) + " , " + words("cat", 10))
        XCTAssertEqual(got.map(\.tokens), [chunk(Array(repeating: cat, count: 70) + [comma]), chunk(Array(repeating: cat, count: 10))])
    }

    func testACommaMoreThanTwentyTokensBackIsNotUsed() throws {
        let got = try chunks(words("cat", 50) + " , " + words("cat", 30))
        XCTAssertEqual(got.map(\.tokens), [chunk(Array(repeating: cat, count: 50) + [comma] + Array(repeating: cat, count: 24)),
                                           chunk(Array(repeating: cat, count: 6))])
    }

    func testACommaExactlyTwentyTokensBackIsUsed() throws {
        // Comma at index 55: 75 - 55 = 20 <= 20.
        let got = try chunks(words("cat", 55) + " , " + words("cat", 25))
        XCTAssertEqual(got.map(\.tokens), [chunk(Array(repeating: cat, count: 55) + [comma]), chunk(Array(repeating: cat, count: 25))])
    }

    func testACommaThatIsTheSeventySixthTokenDoesNotMoveAnything() throws {
        // The chunk is full of cats when the comma comes: a comma never triggers the move.
        let got = try chunks(words("cat", 75) + " , dog")
        XCTAssertEqual(got.map(\.tokens), [chunk(Array(repeating: cat, count: 75)), chunk([comma, dog])])
    }

    func testBreakStartsANewChunk() throws {
        XCTAssertEqual(try chunks("cat BREAK dog").map(\.tokens), [chunk([cat]), chunk([dog])])
        // A leading BREAK closes an empty chunk; a trailing one adds nothing.
        XCTAssertEqual(try chunks("BREAK dog").map(\.tokens), [chunk([]), chunk([dog])])
        XCTAssertEqual(try chunks("cat BREAK").map(\.tokens), [chunk([cat])])
    }

    func testBreakInsideBracketsIsTheWordBreakWeighted() throws {
        let got = try chunks("(cat BREAK dog)")
        let breakWord = t.encode("BREAK")
        XCTAssertEqual(got.map(\.tokens), [chunk([cat] + breakWord + [dog])])
        XCTAssertEqual(Array(got[0].multipliers[1...3]), [Float(1.1), Float(-1.1), Float(1.1)])
    }

    func testWeightsFollowTheirTokensAsFloats() throws {
        let got = try chunks("a (cat:1.5) [dog]")
        XCTAssertEqual(got.count, 1)
        XCTAssertEqual(got[0].tokens, chunk(t.encode("a") + [cat, dog]))
        XCTAssertEqual(Array(got[0].multipliers.prefix(5)), [1, 1, 1.5, Float(1 / 1.1), 1])
        XCTAssertTrue(got[0].isWeighted)
        XCTAssertFalse(try chunks("a cat")[0].isWeighted)
    }

    func testEachPieceIsTokenizedOnItsOwn() throws {
        // "(cat)dog" is "cat" and "dog", not the one word "catdog".
        XCTAssertEqual(try chunks("(cat)dog")[0].tokens, chunk([cat, dog]))
        XCTAssertNotEqual(t.encode("catdog"), [cat, dog])
    }

    func testWeightsCarryIntoTheSecondChunk() throws {
        let got = try chunks("(" + words("cat", 80) + ":1.2)")
        XCTAssertEqual(got.count, 2)
        XCTAssertEqual(got[1].multipliers, [1] + Array(repeating: Float(1.2), count: 5) + Array(repeating: 1, count: 71))
    }
}
