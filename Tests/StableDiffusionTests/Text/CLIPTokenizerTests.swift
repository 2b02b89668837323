import Foundation
import XCTest
@testable import StableDiffusion

/// Behaviour stated by the specification (facts.md, transformers' conventions) rather than
/// compared prompt by prompt.
final class CLIPTokenizerTests: XCTestCase {
    let tokenizer = SharedTokenizer.shapes

    func testAPhotoOfACatGivesTheIDsInFacts() {
        let prompt = tokenizer.tokenize("a photo of a cat")
        XCTAssertEqual(Array(prompt.ids.prefix(7)), [49406, 320, 1125, 539, 320, 2368, 49407])
        XCTAssertEqual(Array(prompt.ids.dropFirst(7)), Array(repeating: 49407, count: 70))
        XCTAssertEqual(prompt.truncatedTokenCount, 0)
        XCTAssertNil(prompt.droppedText)
    }

    func testSpecialTokenIDsAndLengthComeFromTheFiles() {
        XCTAssertEqual(tokenizer.startID, 49406)
        XCTAssertEqual(tokenizer.endID, 49407)
        XCTAssertEqual(tokenizer.padID, 49407)
        XCTAssertEqual(tokenizer.modelMaxLength, 77)
    }

    func testEmptyPromptIsStartEndAndPadding() {
        XCTAssertEqual(tokenizer.encode(""), [])
        XCTAssertEqual(tokenizer.tokenize("").ids, [49406] + Array(repeating: 49407, count: 76))
    }

    func testTruncationKeepsSeventyFiveTokensAndCountsTheRest() {
        let prompt = tokenizer.tokenize(Array(repeating: "cat", count: 80).joined(separator: " "))
        XCTAssertEqual(prompt.ids.count, 77)
        XCTAssertEqual(prompt.ids.first, 49406)
        XCTAssertEqual(prompt.ids.last, 49407)
        XCTAssertEqual(prompt.truncatedTokenCount, 5)
        XCTAssertTrue(prompt.wasTruncated)
        XCTAssertEqual(prompt.droppedText, "cat cat cat cat cat")
    }

    func testExactlySeventyFiveTokensAreNotTruncated() {
        let prompt = tokenizer.tokenize(Array(repeating: "cat", count: 75).joined(separator: " "))
        XCTAssertEqual(prompt.truncatedTokenCount, 0)
        XCTAssertFalse(prompt.wasTruncated)
    }

    func testOtherLengthsKeepLengthMinusTwoTokens() {
        let text = "a red circle on a blue background"
        let full = tokenizer.encode(text)
        XCTAssertEqual(full.count, 7)
        let prompt = tokenizer.tokenize(text, length: 5)
        XCTAssertEqual(prompt.ids, [49406] + full.prefix(3) + [49407])
        XCTAssertEqual(prompt.truncatedTokenCount, 4)
        XCTAssertEqual(prompt.droppedText, "on a blue background")
    }

    func testDecodeUndoesByteLevelEncodingOfNonASCIIText() {
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("Café au lait 😀")), "café au lait 😀")
    }

    func testVeryLongWordsAndPromptsEncodeCompletely() {
        // 20 000-byte words and a 5 000-word prompt: the BPE heap keeps this fast, and
        // every byte still lands in some token.
        for word in [String(repeating: "!", count: 20_000), String(repeating: "ab", count: 10_000)] {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(word)), word)
        }
        let prompt = Array(repeating: "red circle", count: 2_500).joined(separator: " ")
        XCTAssertEqual(tokenizer.encode(prompt).count, 5_000)
    }

    func testEncodingTheSamePromptTwiceGivesTheSameIDs() {
        let first = tokenizer.encode("a small yellow striped star at the top")
        XCTAssertEqual(tokenizer.encode("a small yellow striped star at the top"), first)
    }

    func testConcurrentEncodingGivesTheSerialResults() {
        // The word cache is shared between threads; results must not depend on interleaving.
        let prompts = TokenizerFixture.shared.cases.map(\.text)
        let serial = prompts.map { tokenizer.encode($0) }
        let results = ConcurrentResults(count: prompts.count * 4)
        let shared = tokenizer
        DispatchQueue.concurrentPerform(iterations: prompts.count * 4) { index in
            results.set(index, shared.encode(prompts[index % prompts.count]))
        }
        for index in 0..<(prompts.count * 4) {
            XCTAssertEqual(results.get(index), serial[index % prompts.count], prompts[index % prompts.count])
        }
    }

    func testTokenStringsOfUnknownIDsSayUnknown() {
        XCTAssertEqual(tokenizer.tokenStrings([320, 99_999]), ["a</w>", "<unk:99999>"])
    }
}

/// Results written from many threads, one slot each.
private final class ConcurrentResults: @unchecked Sendable {
    private var slots: [[Int]]
    private let lock = NSLock()

    init(count: Int) {
        slots = Array(repeating: [], count: count)
    }

    func set(_ index: Int, _ value: [Int]) {
        lock.withLock { slots[index] = value }
    }

    func get(_ index: Int) -> [Int] {
        lock.withLock { slots[index] }
    }
}
