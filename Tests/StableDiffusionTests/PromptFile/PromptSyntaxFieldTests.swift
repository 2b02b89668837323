import Foundation
import XCTest
@testable import StableDiffusion

/// `prompt_syntax` and `clip_skip`: JSONL fields, checked like every field, written to and read
/// back from the PNG parameters text.
final class PromptSyntaxFieldTests: XCTestCase {
    let defaults = GenerationRequest(prompt: "default", seed: 1, steps: 20, guidanceScale: 7.5, width: 64, height: 64)

    func testPromptSyntaxAndClipSkipAreJSONLFields() throws {
        let text = """
            {"prompt": "a (cat:1.2)", "prompt_syntax": "literal", "clip_skip": 2}
            {"prompt": "b", "prompt_syntax": "a1111"}
            {"prompt": "c", "prompt_syntax": null, "clip_skip": null}
            """
        let requests = try PromptFile.parse(text: text, defaults: defaults, format: .jsonLines)
        XCTAssertEqual(requests.map(\.promptSyntax), [.literal, .a1111, nil])
        XCTAssertEqual(requests.map(\.clipSkip), [2, nil, nil])
        XCTAssertEqual(requests[0].textEncoding, TextEncoding(syntax: .literal, clipSkip: 2))
        XCTAssertEqual(requests[2].textEncoding, .standard)
    }

    func testBadValuesAreNamedWithTheirLine() {
        let text = """
            {"prompt": "a", "prompt_syntax": "comfy"}
            {"prompt": "b", "clip_skip": 0}
            {"prompt": "c", "clip_skip": 13}
            {"prompt": "d", "clip_skip": "2"}
            """
        do {
            _ = try PromptFile.parse(text: text, defaults: defaults, format: .jsonLines)
            XCTFail("bad lines were accepted")
        } catch let error as PromptFileError {
            XCTAssertEqual(error.problems.map(\.line), [1, 2, 3, 4])
            XCTAssertTrue(error.problems[0].message.contains("prompt_syntax must be \"a1111\" or \"literal\""), error.problems[0].message)
            XCTAssertTrue(error.problems[1].message.contains("clip_skip must be 1...12"), error.problems[1].message)
            XCTAssertTrue(error.problems[2].message.contains("clip_skip must be 1...12"), error.problems[2].message)
            XCTAssertTrue(error.problems[3].message.contains("clip_skip"), error.problems[3].message)
        } catch {
            XCTFail("unexpected error \(error)")
        }
    }

    func testClipSkipAndPromptSyntaxRoundTripThroughThePNGText() throws {
        var request = defaults
        request.prompt = "a (red:1.3) dress"
        request.clipSkip = 2
        request.promptSyntax = .literal
        let text = GenerationParameters(request: request).text
        XCTAssertTrue(text.contains("Clip skip: 2"), text)
        XCTAssertTrue(text.contains("Prompt syntax: literal"), text)
        XCTAssertEqual(try GenerationParameters(parsing: text).request, request)
        XCTAssertFalse(GenerationParameters(request: defaults).text.contains("Clip skip"), "unset: left out, as the web UI leaves out 1")
    }
}
