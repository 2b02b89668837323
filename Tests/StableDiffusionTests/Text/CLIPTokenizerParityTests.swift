import XCTest
@testable import StableDiffusion

/// The tokenizer against transformers' CLIPTokenizer, prompt by prompt (Fixtures/tokenizer).
final class CLIPTokenizerParityTests: XCTestCase {
    let tokenizer = SharedTokenizer.shapes
    let fixture = TokenizerFixture.shared

    func testFixtureHoldsAtLeastSixtyPrompts() {
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 60)
    }

    func testEveryPromptEncodesToTransformersIDs() {
        for testCase in fixture.cases {
            let ids = [tokenizer.startID] + tokenizer.encode(testCase.text) + [tokenizer.endID]
            XCTAssertEqual(ids, testCase.ids, "prompt \(testCase.text.debugDescription)")
        }
    }

    func testEveryPromptGivesTransformersTokenStrings() {
        for testCase in fixture.cases {
            XCTAssertEqual(tokenizer.tokenStrings(testCase.ids), testCase.tokens,
                           "prompt \(testCase.text.debugDescription)")
        }
    }

    func testEveryPromptPadsAndTruncatesLikeAnSDPipeline() {
        for testCase in fixture.cases {
            let prompt = tokenizer.tokenize(testCase.text, length: fixture.maxLength)
            XCTAssertEqual(prompt.ids, testCase.paddedIDs, "prompt \(testCase.text.debugDescription)")
            let contentCount = testCase.ids.count - 2
            XCTAssertEqual(prompt.truncatedTokenCount, max(0, contentCount - (fixture.maxLength - 2)),
                           "prompt \(testCase.text.debugDescription)")
        }
    }

    func testSeededRandomPromptsEncodeToTransformersIDs() {
        // Random mixes of marks, supplementary letters, controls and special-token fragments:
        // they found two Unicode differences that the hand-written prompts did not.
        XCTAssertEqual(fixture.randomCases.count, 400)
        for testCase in fixture.randomCases {
            let ids = [tokenizer.startID] + tokenizer.encode(testCase.text) + [tokenizer.endID]
            XCTAssertEqual(ids, testCase.ids, "prompt \(testCase.text.debugDescription)")
        }
    }

    func testFixtureCoversTruncatedPrompts() {
        let truncated = fixture.cases.filter { $0.ids.count > fixture.maxLength }
        XCTAssertGreaterThanOrEqual(truncated.count, 3)
    }
}
