import Compute
import XCTest
@testable import StableDiffusion

/// Clip skip and textual inversion against diffusers on tiny-sd (`Fixtures/text/`, made by
/// scripts/fixtures/make_text_fixtures.py from `encode_prompt` and `load_textual_inversion`).
/// The bar is the engine parity tests' 1e-4 relative to the output's scale.
final class DiffusersTextParityTests: XCTestCase {
    static let prompt = "a red circle on a blue background"
    static let textualInversionPrompt = "a myconcept on a blue background"
    var p: StableDiffusionPipeline { PromptEncoderTests.pipeline }

    private func reference(_ name: String) throws -> Tensor {
        try SafeTensorsFile(path: Fixtures.path("text/diffusers-text.safetensors")).tensor(name)
    }

    func testClipSkipOneIsDiffusersDefault() throws {
        let got = try p.embed(Self.prompt, encoding: .standard).embedding
        XCTAssertLessThan(Fixtures.relativeError(got, try reference("clip_skip_none")), 1e-4)
    }

    func testA1111ClipSkipTwoIsDiffusersClipSkipOne() throws {
        let got = try p.embed(Self.prompt, encoding: TextEncoding(syntax: .a1111, clipSkip: 2)).embedding
        let expected = try reference("clip_skip_1")
        XCTAssertLessThan(Fixtures.relativeError(got, expected), 1e-4)
        XCTAssertGreaterThan(Fixtures.relativeError(try p.embed(Self.prompt).embedding, expected), 1e-2,
                             "clip skip 1 is not diffusers' clip_skip=1")
    }

    func testATwoVectorEmbeddingMatchesDiffusersLoadTextualInversion() throws {
        let library = try TextualInversionLibrary(directory: Fixtures.path("text/embeddings"), tokenizer: p.tokenizer,
                                                  hiddenSize: p.textEncoder.shape.hiddenSize)
        XCTAssertEqual(library.embeddings["myconcept"]?.vectors.count, 2)
        let encoder = PromptEncoder(tokenizer: p.tokenizer, textEncoder: p.textEncoder, embeddings: library)
        let got = try encoder.encode(encoder.prepare(Self.textualInversionPrompt, syntax: .a1111), clipSkip: 1)
        XCTAssertLessThan(Fixtures.relativeError(got, try reference("ti")), 1e-4)
    }
}
