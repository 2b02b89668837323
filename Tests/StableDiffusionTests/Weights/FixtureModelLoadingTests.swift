import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// The engine fixtures written by diffusers (`Tests/StableDiffusionTests/Fixtures/tiny-sd`, a
/// diffusers folder, and `tiny-sd.safetensors`, the same weights as a CompVis single file) load
/// completely, and both layouts give the same tensors under every diffusers name.
/// Skipped where those fixtures are not present (they come from the fixtures branch).
final class FixtureModelLoadingTests: XCTestCase {
    private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    private func requireFixtures() throws -> (folder: String, single: String) {
        let folder = fixtures + "/tiny-sd", single = try Fixtures.singleFile("tiny-sd")
        // The fixtures are committed: their absence is a failure, not a reason to skip.
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/model_index.json"), "missing \(folder)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: single), "missing \(single)")
        return (folder, single)
    }

    func testDiffusersFolderFixtureLoadsEveryWeight() throws {
        let paths = try requireFixtures()
        let model = try ModelLocation.open(paths.folder)
        XCTAssertNotNil(model.tokenizerDirectory)
        XCTAssertNotNil(model.schedulerConfigJSON)
        for store in [model.unet.weights, model.textEncoder.weights, model.vae.weights] {
            for name in store.names { _ = try store.tensor(name) }
            XCTAssertNoThrow(try store.checkAllUsed(), store.source)
        }
    }

    func testSingleFileFixtureMatchesTheFolderTensorForTensor() throws {
        let paths = try requireFixtures()
        let folder = try ModelLocation.open(paths.folder)
        let single = try ModelLocation.open(paths.single, configDirectory: paths.folder)
        XCTAssertEqual(single.unet.config, folder.unet.config)
        XCTAssertEqual(single.tokenizerDirectory, folder.tokenizerDirectory)
        let pairs = [(folder.unet.weights, single.unet.weights), (folder.textEncoder.weights, single.textEncoder.weights),
                     (folder.vae.weights, single.vae.weights)]
        for (reference, mapped) in pairs {
            let names = reference.names.filter { !$0.hasSuffix("position_ids") }
            XCTAssertEqual(Set(names), Set(mapped.names.filter { !$0.hasSuffix("position_ids") }), reference.source)
            for name in names {
                let shape = try XCTUnwrap(reference.shape(of: name))
                XCTAssertEqual(try mapped.tensor(name, shape: shape).values, try reference.tensor(name).values, name)
            }
            XCTAssertNoThrow(try mapped.checkAllUsed(), mapped.source)
        }
    }
}
