import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// Textual inversion on tiny-sd: an embedding's vectors replace the token rows where its name is
/// written. The independent check: an embedding whose vectors are the vocabulary's own rows of
/// some words must give exactly the embedding of the prompt with those words written instead.
final class TextualInversionTests: XCTestCase {
    var p: StableDiffusionPipeline { PromptEncoderTests.pipeline }
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ti-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// The token-embedding row of a one-token word.
    private func row(_ word: String) -> [Float] {
        let id = p.tokenizer.encode(word)
        precondition(id.count == 1, "\(word) is not one token")
        let d = p.textEncoder.shape.hiddenSize
        return Array(UnsafeBufferPointer(start: p.textEncoder.tokenEmbedding.pointer + id[0] * d, count: d))
    }

    private func write(_ name: String, key: String = "emb_params", vectors: [[Float]]) throws {
        var writer = SafeTensorsWriter()
        writer.add(key, shape: [vectors.count, vectors[0].count], values: vectors.flatMap { $0 })
        try writer.serialized().write(to: folder.appendingPathComponent(name))
    }

    private func encoder(_ library: TextualInversionLibrary) -> PromptEncoder {
        PromptEncoder(tokenizer: p.tokenizer, textEncoder: p.textEncoder, embeddings: library)
    }

    private func embedding(_ prompt: String, _ encoder: PromptEncoder) throws -> [Float] {
        try encoder.encode(encoder.prepare(prompt, syntax: .a1111), clipSkip: 1).values
    }

    func testOneVectorReplacesTheNamesTokens() throws {
        try write("myconcept.safetensors", vectors: [row("cat")])
        let library = try TextualInversionLibrary(directory: folder.path, tokenizer: p.tokenizer, hiddenSize: 32)
        XCTAssertGreaterThan(p.tokenizer.encode("myconcept").count, 1, "the name spans several tokens")
        let e = encoder(library)
        XCTAssertEqual(try embedding("a red myconcept", e), try embedding("a red cat", e))
        XCTAssertNotEqual(try embedding("a red myconcept", e), try embedding("a red cat dog", e))
        XCTAssertEqual(try e.prepare("a myconcept, (myconcept:1.2)", syntax: .a1111).embeddingsUsed.keys.sorted(), ["myconcept"])
    }

    func testSeveralVectorsTakeAsManyTokenRowsAndKeepTheirWeight() throws {
        try write("style.safetensors", key: "string_to_param.*", vectors: [row("red"), row("circle")])
        let e = encoder(try TextualInversionLibrary(directory: folder.path, tokenizer: p.tokenizer, hiddenSize: 32))
        XCTAssertEqual(try embedding("a style on blue", e), try embedding("a red circle on blue", e))
        XCTAssertEqual(try embedding("a (style:1.3) on blue", e), try embedding("a (red circle:1.3) on blue", e))
        let chunk = try e.prepare("a (style:1.3)", syntax: .a1111).chunks[0]
        XCTAssertEqual(Array(chunk.multipliers[2...3]), [1.3, 1.3])
        XCTAssertEqual(chunk.insertions.map(\.offset), [2])
    }

    func testTheNegativePromptUsesEmbeddingsToo() throws {
        try write("badthing.safetensors", vectors: [row("blurry")])
        let library = try TextualInversionLibrary(directory: folder.path, tokenizer: p.tokenizer, hiddenSize: 32)
        let pipeline = try StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path("tiny-sd")),
                                                   textualInversions: { _, _ in library })
        let request = GenerationRequest(prompt: "a red circle", negativePrompt: "badthing", seed: 1, steps: 2,
                                        guidanceScale: 3, width: 32, height: 32)
        var replaced = request
        replaced.negativePrompt = "blurry"
        XCTAssertEqual(try pipeline.generate(request).rgb, try pipeline.generate(replaced).rgb)
        XCTAssertNotEqual(try pipeline.generate(request).rgb, try p.generate(request).rgb, "without the library the name is text")
    }

    func testVectorsThatDoNotFitTheChunkStartTheNext() throws {
        try write("three.safetensors", vectors: [row("red"), row("circle"), row("blue")])
        let e = encoder(try TextualInversionLibrary(directory: folder.path, tokenizer: p.tokenizer, hiddenSize: 32))
        let chunks = try e.prepare(Array(repeating: "cat", count: 73).joined(separator: " ") + " three", syntax: .a1111).chunks
        XCTAssertEqual(chunks.count, 2)
        XCTAssertEqual(chunks[1].insertions.map(\.offset), [1])
    }

    func testPickleEmbeddingsAreRefusedWhenAPromptNamesThem() throws {
        try Data([0x80, 0x02]).write(to: folder.appendingPathComponent("oldstyle.pt"))
        let e = encoder(try TextualInversionLibrary(directory: folder.path, tokenizer: p.tokenizer, hiddenSize: 32))
        XCTAssertNoThrow(try e.prepare("a cat", syntax: .a1111))
        XCTAssertThrowsError(try e.prepare("a oldstyle cat", syntax: .a1111)) { error in
            XCTAssertTrue("\(error)".contains("oldstyle.pt is a pickle file"), "\(error)")
        }
    }

    func testInvalidFilesAreErrorsNamingThem() throws {
        var writer = SafeTensorsWriter()
        writer.add("a", shape: [1, 32], values: Array(repeating: 0, count: 32))
        writer.add("b", shape: [1, 32], values: Array(repeating: 0, count: 32))
        try writer.serialized().write(to: folder.appendingPathComponent("two.safetensors"))
        XCTAssertThrowsError(try TextualInversionLibrary(directory: folder.path, tokenizer: p.tokenizer, hiddenSize: 32)) { error in
            XCTAssertTrue("\(error)".contains("two.safetensors") && "\(error)".contains("2 tensors"), "\(error)")
        }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("two.safetensors"))
        try write("wide.safetensors", vectors: [Array(repeating: 0, count: 768)])
        XCTAssertThrowsError(try TextualInversionLibrary(directory: folder.path, tokenizer: p.tokenizer, hiddenSize: 32)) { error in
            XCTAssertTrue("\(error)".contains("wide.safetensors") && "\(error)".contains("[1, 768]"), "\(error)")
        }
        XCTAssertThrowsError(try TextualInversionLibrary(directory: folder.path + "/nope", tokenizer: p.tokenizer, hiddenSize: 32)) { error in
            XCTAssertTrue("\(error)".contains("no such folder"), "\(error)")
        }
    }

    func testTheCacheKeyRecordsTheEmbeddingFilesContent() throws {
        try write("myconcept.safetensors", vectors: [row("cat")])
        let first = try TextualInversionLibrary(directory: folder.path, tokenizer: p.tokenizer, hiddenSize: 32)
        try write("myconcept.safetensors", vectors: [row("dog")])
        let second = try TextualInversionLibrary(directory: folder.path, tokenizer: p.tokenizer, hiddenSize: 32)
        let a = try encoder(first).prepare("a myconcept", syntax: .a1111)
        let b = try encoder(second).prepare("a myconcept", syntax: .a1111)
        XCTAssertNotEqual(p.embeddingKey("a myconcept", encoding: .standard, prepared: a).id,
                          p.embeddingKey("a myconcept", encoding: .standard, prepared: b).id)
        let none = try encoder(first).prepare("a cat", syntax: .a1111)
        XCTAssertEqual(p.embeddingKey("a cat", encoding: .standard, prepared: none).id,
                       EmbeddingKey(modelHash: p.location.contentHash, text: "a cat").id)
    }
}
