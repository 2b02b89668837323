import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// The named view modules load from: shape checks, missing and surplus keys, several files.
final class WeightStoreTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws { folder = try TemporaryFolder() }
    override func tearDown() { folder = nil }

    private func store(_ tensors: [(String, [Int])], source: String = "test/unet") throws -> WeightStore {
        var writer = SafeTensorsWriter()
        for (i, (name, shape)) in tensors.enumerated() {
            writer.add(name, shape: shape, values: testValues(shape.reduce(1, *), seed: UInt64(i + 1)))
        }
        let file = try SafeTensorsFile(path: folder.write(writer, to: "w\(UUID().uuidString).safetensors"))
        return try WeightStore(files: [file], source: source)
    }

    func testTensorWithTheConfiguredShapeLoads() throws {
        let weights = try store([("conv_in.weight", [4, 3, 3, 3])])
        let t = try weights.tensor("conv_in.weight", shape: [4, 3, 3, 3])
        XCTAssertEqual(t.shape, [4, 3, 3, 3])
        XCTAssertEqual(t.values, testValues(108, seed: 1))
    }

    func testWrongShapeNamesSourceKeyAndBothShapes() throws {
        let weights = try store([("conv_in.weight", [4, 3, 3, 3])])
        assertWeightError(["test/unet", "'conv_in.weight'", "[4, 3, 3, 3]", "[8, 3, 3, 3]", "config.json"]) {
            _ = try weights.tensor("conv_in.weight", shape: [8, 3, 3, 3])
        }
        // Same element count, different layout: still wrong.
        assertWeightError(["'conv_in.weight'"]) { _ = try weights.tensor("conv_in.weight", shape: [12, 3, 3]) }
    }

    func testTrailingUnitDimensionsAreTheSameLayout() throws {
        let weights = try store([("proj_in.weight", [8, 8, 1, 1]), ("to_q.weight", [8, 8])])
        XCTAssertEqual(try weights.tensor("proj_in.weight", shape: [8, 8]).shape, [8, 8])
        XCTAssertEqual(try weights.tensor("to_q.weight", shape: [8, 8, 1, 1]).shape, [8, 8, 1, 1])
    }

    func testMissingKeyNamesSourceAndKey() throws {
        let weights = try store([("a", [1])])
        assertWeightError(["test/unet", "'down_blocks.0.resnets.0.conv1.weight'", "missing"]) {
            _ = try weights.tensor("down_blocks.0.resnets.0.conv1.weight", shape: [1])
        }
        XCTAssertFalse(weights.contains("b"))
        XCTAssertTrue(weights.contains("a"))
    }

    func testSurplusKeysAreListedAfterLoading() throws {
        let weights = try store([("used", [2]), ("extra.one", [1]), ("extra.two", [1]),
                                 ("text_model.embeddings.position_ids", [1, 2])])
        _ = try weights.tensor("used", shape: [2])
        XCTAssertEqual(weights.unusedNames, ["extra.one", "extra.two"])
        assertWeightError(["test/unet", "2 weight(s)", "extra.one", "extra.two"]) { try weights.checkAllUsed() }
        _ = try weights.tensor("extra.one")
        _ = try weights.tensor("extra.two")
        XCTAssertNoThrow(try weights.checkAllUsed())
    }

    func testSeveralFilesFormOneStoreAndDuplicatesAreRefused() throws {
        var a = SafeTensorsWriter(), b = SafeTensorsWriter()
        a.add("x", shape: [1], values: [1])
        b.add("y", shape: [1], values: [2], as: .f16)
        let fa = try SafeTensorsFile(path: folder.write(a, to: "a.safetensors"))
        let fb = try SafeTensorsFile(path: folder.write(b, to: "b.safetensors"))
        let weights = try WeightStore(files: [fa, fb], source: "two")
        XCTAssertEqual(weights.names, ["x", "y"])
        XCTAssertEqual(try weights.tensor("y", shape: [1]).values, [2])
        assertWeightError(["two", "'x'", "more than once"]) { _ = try WeightStore(files: [fa, fa], source: "two") }
    }

    func testInMemoryStoreChecksShapesAndUseLikeAFileStore() throws {
        let weights = WeightStore.inMemory(["w": Tensor(shape: [2, 2], values: [1, 2, 3, 4]),
                                            "b": Tensor(zeros: [2])], source: "random")
        XCTAssertEqual(try weights.tensor("w", shape: [2, 2]).values, [1, 2, 3, 4])
        assertWeightError(["random", "'w'", "[2, 2]"]) { _ = try weights.tensor("w", shape: [4]) }
        assertWeightError(["random", "not used by the model: b"]) { try weights.checkAllUsed() }
    }

    func testRenamedStoreAnswersToBothSpellings() throws {
        var writer = SafeTensorsWriter()
        writer.add("embeddings.token_embedding.weight", shape: [3, 2], values: testValues(6, seed: 3))
        let file = try SafeTensorsFile(path: folder.write(writer, to: "clip.safetensors"))
        let weights = try WeightStore(files: [file], source: "clip", rename: CompVisKeyMap.withTextModelLevel)
        XCTAssertEqual(weights.names, ["text_model.embeddings.token_embedding.weight"])
        XCTAssertTrue(weights.contains("embeddings.token_embedding.weight"))
        _ = try weights.tensor("embeddings.token_embedding.weight", shape: [3, 2])
        XCTAssertNoThrow(try weights.checkAllUsed())
    }

    func testStoreIsSafeToReadFromManyThreads() throws {
        let names = (0..<64).map { "w\($0)" }
        let weights = try store(names.map { ($0, [16]) })
        DispatchQueue.concurrentPerform(iterations: names.count) { i in
            XCTAssertEqual((try? weights.tensor(names[i], shape: [16]))?.values, testValues(16, seed: UInt64(i + 1)))
        }
        XCTAssertNoThrow(try weights.checkAllUsed())
    }
}
