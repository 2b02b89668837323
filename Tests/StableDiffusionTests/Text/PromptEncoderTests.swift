import Compute
import XCTest
@testable import StableDiffusion

/// The text embedding of A1111-style prompts on tiny-sd's text encoder (2 layers, width 32),
/// each checked against an independent computation written out in the test.
final class PromptEncoderTests: XCTestCase {
    static let pipeline: StableDiffusionPipeline = {
        try! StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path("tiny-sd")))
    }()
    var p: StableDiffusionPipeline { Self.pipeline }

    /// The embedding as diffusers computes it: padded ids, the whole encoder, `[1, 77, D]`.
    private func diffusersEmbedding(_ prompt: String) throws -> Tensor {
        let out = try p.textEncoder.encode(p.tokenizer.tokenize(prompt).ids)
        return out.reshaped([1] + out.shape)
    }

    private func rows(_ t: Tensor, _ range: Range<Int>) -> [Float] {
        let width = t.shape.last!
        return Array(t.values[(range.lowerBound * width)..<(range.upperBound * width)])
    }

    func testPlainPromptsKeepDiffusersBitsUnderEitherSyntax() throws {
        for prompt in ["a red circle on a blue background", "", "blurry", "smile :) a:b"] {
            let expected = try diffusersEmbedding(prompt)
            for encoding in [TextEncoding.standard, .literal] {
                let got = try p.embed(prompt, encoding: encoding)
                XCTAssertEqual(got.embedding.shape, [1, 77, 32])
                XCTAssertEqual(got.embedding.values, expected.values, "\(prompt) \(encoding)")
                XCTAssertEqual(got.truncatedTokens, 0)
            }
        }
    }

    func testEmphasisScalesRowsThenRestoresTheMean() throws {
        let prompt = "a (red:1.5) circle on a [blue] background"
        let got = try p.embed(prompt, encoding: .standard).embedding
        // The same tokens without weights, through the encoder as they are.
        let plain = try p.textEncoder.encode(p.tokenizer.tokenize("a red circle on a blue background").ids)
        var multipliers = [Double](repeating: 1, count: 77)
        multipliers[2] = 1.5           // "red"
        multipliers[6] = 1 / 1.1       // "blue"
        let z = plain.values.map(Double.init), width = 32
        let meanBefore = z.reduce(0, +) / Double(z.count)
        let weighted = z.indices.map { z[$0] * multipliers[$0 / width] }
        let meanAfter = weighted.reduce(0, +) / Double(z.count)
        let expected = weighted.map { $0 * meanBefore / meanAfter }
        XCTAssertEqual(got.shape, [1, 77, 32])
        let error = zip(got.values, expected).map { abs(Double($0) - $1) }.max()!
        XCTAssertLessThan(error, 1e-5 * expected.map(abs).max()!)
        // Not a no-op: the weighted rows changed against the plain embedding by their weight.
        XCTAssertNotEqual(rows(got, 2..<3), rows(plain.reshaped([1, 77, 32]), 2..<3))
    }

    func testAWeightOfOneEverywhereIsTheDiffusersEmbedding() throws {
        // "(a:1)" parses to weight 1 and merges back into the plain text.
        let got = try p.embed("(a:1) red circle", encoding: .standard).embedding
        XCTAssertEqual(got.values, try diffusersEmbedding("a red circle").values)
    }

    func testLongPromptsAreChunksEncodedOnTheirOwnAndConcatenated() throws {
        let words = (0..<80).map { $0 % 2 == 0 ? "red" : "circle" }
        let prompt = words.joined(separator: " ")
        let got = try p.embed(prompt, encoding: .standard)
        XCTAssertEqual(got.embedding.shape, [1, 154, 32])
        XCTAssertEqual(got.truncatedTokens, 0)
        let ids = p.tokenizer.encode(prompt)
        XCTAssertEqual(ids.count, 80)
        let first = [p.tokenizer.startID] + ids[0..<75] + [p.tokenizer.endID]
        let second = [p.tokenizer.startID] + ids[75...] + Array(repeating: p.tokenizer.endID, count: 71)
        XCTAssertEqual(rows(got.embedding, 0..<77), try p.textEncoder.encode(first).values)
        XCTAssertEqual(rows(got.embedding, 77..<154), try p.textEncoder.encode(second).values)
    }

    func testLiteralSyntaxCutsLongPromptsAsDiffusersDoes() throws {
        let prompt = Array(repeating: "red (circle)", count: 40).joined(separator: " ")
        let got = try p.embed(prompt, encoding: .literal)
        XCTAssertEqual(got.embedding.values, try diffusersEmbedding(prompt).values)
        XCTAssertEqual(got.truncatedTokens, p.tokenizer.encode(prompt).count - 75)
    }

    func testBreakMakesTwoChunks() throws {
        let got = try p.embed("red circle BREAK blue background", encoding: .standard).embedding
        XCTAssertEqual(got.shape, [1, 154, 32])
        XCTAssertEqual(rows(got, 0..<77), try diffusersEmbedding("red circle").values)
        XCTAssertEqual(rows(got, 77..<154), try diffusersEmbedding("blue background").values)
    }

    // MARK: Clip skip

    func testClipSkipTwoIsThePenultimateLayerThroughTheFinalNorm() throws {
        let ids = p.tokenizer.tokenize("a red circle").ids
        let encoder = p.textEncoder
        // Token + position embeddings, the first of the two layers, the final layer norm.
        let d = encoder.shape.hiddenSize
        var x = [Float](repeating: 0, count: ids.count * d)
        for (i, id) in ids.enumerated() {
            for j in 0..<d { x[i * d + j] = encoder.tokenEmbedding.pointer[id * d + j] + encoder.positionEmbedding.pointer[i * d + j] }
        }
        let expected = try encoder.finalNorm(encoder.layers[0](Tensor(shape: [ids.count, d], values: x)))
        XCTAssertEqual(try encoder.encode(ids, clipSkip: 2).values, expected.values)
        XCTAssertNotEqual(try encoder.encode(ids, clipSkip: 1).values, expected.values)
        let viaPipeline = try p.embed("a red circle", encoding: TextEncoding(syntax: .a1111, clipSkip: 2)).embedding
        XCTAssertEqual(viaPipeline.values, expected.values)
    }

    func testAClipSkipBeyondTheEncodersLayersIsRefusedNamingTheLimit() {
        XCTAssertThrowsError(try p.textEncoder.encode([49406, 49407], clipSkip: 3)) { error in
            XCTAssertTrue("\(error)".contains("has 2"), "\(error)")
        }
        XCTAssertThrowsError(try p.checkTexts(of: GenerationRequest(prompt: "a", clipSkip: 3)))
        XCTAssertNoThrow(try p.checkTexts(of: GenerationRequest(prompt: "a", clipSkip: 2)))
    }

    // MARK: Cache keys

    func testTheEmbeddingKeyChangesWithEverythingThatChangesTheEmbedding() throws {
        let prompt = "a red circle"
        let prepared = try p.promptEncoder.prepare(prompt, syntax: .a1111)
        let standard = p.embeddingKey(prompt, encoding: .standard, prepared: prepared)
        XCTAssertEqual(standard.id, EmbeddingKey(modelHash: p.location.contentHash, text: prompt).id,
                       "the standard encoding keeps the ids of earlier versions")
        let others = [TextEncoding.literal, TextEncoding(syntax: .a1111, clipSkip: 2), TextEncoding(syntax: .literal, clipSkip: 2)]
            .map { p.embeddingKey(prompt, encoding: $0, prepared: prepared).id }
        XCTAssertEqual(Set(others + [standard.id]).count, 4)
    }
}
