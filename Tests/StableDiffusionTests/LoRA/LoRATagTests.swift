import Foundation
import XCTest
@testable import StableDiffusion

/// AUTOMATIC1111's `<lora:...>` prompt syntax and the JSONL `loras` field.
final class LoRATagTests: XCTestCase {
    func testTagsGiveNamesAndWeightsInEveryFormAUTOMATIC1111Accepts() throws {
        let refs = try LoRATags.references(in: "a cat <lora:style:0.8>, <lora:detail>, <LORA:both:0.5:1.5> <lora:named:unet=0.25:te=2>")
        XCTAssertEqual(refs, [
            LoRAReference(name: "style", textEncoderWeight: 0.8, unetWeight: 0.8),
            LoRAReference(name: "detail", textEncoderWeight: 1, unetWeight: 1),
            LoRAReference(name: "both", textEncoderWeight: 0.5, unetWeight: 1.5),
            LoRAReference(name: "named", textEncoderWeight: 2, unetWeight: 0.25),
        ])
    }

    func testTagsAreRemovedAndEverythingElseStays() {
        XCTAssertEqual(LoRATags.removed(from: "masterpiece, (red dress:1.3), <lora:myStyle:0.8>, cat"),
                       "masterpiece, (red dress:1.3), , cat")
        XCTAssertEqual(LoRATags.removed(from: "<lora:a:1><lora:b:-0.5>"), "")
        // Not tags: other brackets, an unclosed tag, a tag broken by another '<'.
        for text in ["a <b> c", "x <lora:open", "<lora:a <lora:b:1>"] {
            XCTAssertEqual(LoRATags.removed(from: text), text == "<lora:a <lora:b:1>" ? "<lora:a " : text, text)
        }
    }

    func testATagIsWrittenAsAUTOMATIC1111WritesIt() {
        XCTAssertEqual(LoRAReference(name: "s", weight: 0.8).tag, "<lora:s:0.8>")
        XCTAssertEqual(LoRAReference(name: "s", weight: 1).tag, "<lora:s:1.0>")
        XCTAssertEqual(LoRAReference(name: "s", textEncoderWeight: 0.5, unetWeight: 1).tag, "<lora:s:0.5:1.0>")
    }

    func testMalformedTagsAreErrorsThatQuoteTheTag() {
        for (tag, fragment) in [("<lora::1>", "name is empty"), ("<lora:x:abc>", "'abc' is not a number"),
                                ("<lora:x:1:2:3>", "more than two"), ("<lora:x:dyn=3>", "unknown parameter 'dyn'"),
                                ("<lora:../up:1>", "may not hold")] {
            XCTAssertThrowsError(try LoRATags.references(in: "p \(tag)"), tag) { error in
                XCTAssertTrue("\(error)".contains(tag) && "\(error)".contains(fragment), "\(error)")
            }
        }
    }

    func testALoRANamedTwiceForOneImageIsAnError() {
        XCTAssertThrowsError(try LoRASet.references(for: GenerationRequest(prompt: "<lora:a:1> x <lora:a:0.5>"))) { error in
            XCTAssertEqual(error as? LoRAError, .namedTwice(name: "a"))
        }
    }

    func testJSONLLorasAreWrittenIntoThePromptAsTags() throws {
        let text = """
            {"prompt": "a cat", "loras": [{"name": "style", "weight": 0.8}, {"name": "detail"}]}
            {"prompt": "", "loras": [{"name": "s", "weight": -1}]}
            """
        let requests = try PromptFile.parse(text: text, defaults: GenerationRequest(prompt: ""), format: .jsonLines)
        XCTAssertEqual(requests.map(\.prompt), ["a cat <lora:style:0.8> <lora:detail:1.0>", "<lora:s:-1.0>"])
    }

    func testBadJSONLLorasAreReportedWithTheirLine() {
        let text = """
            {"prompt": "a", "loras": {"name": "x"}}
            {"prompt": "b", "loras": [{"name": "x", "weight": "strong"}]}
            {"prompt": "c", "loras": [{"name": "x", "scale": 1}]}
            """
        XCTAssertThrowsError(try PromptFile.parse(text: text, defaults: GenerationRequest(prompt: ""), format: .jsonLines)) { error in
            let message = "\(error)"
            for line in 1...3 { XCTAssertTrue(message.contains("line \(line)"), message) }
            XCTAssertTrue(message.contains("loras"), message)
        }
    }
}
