import Compute
@testable import StableDiffusion
import XCTest

/// The text encoder and the VAE refuse inputs they cannot take with a thrown error naming what is
/// wrong, and keep working afterwards (the UNet's refusals: `ImageSizeParityTests`).
final class ModelInputErrorTests: XCTestCase {
    func testTheTextEncoderRefusesTokenSequencesItCannotTake() throws {
        let location = try ModelLocation.open(Fixtures.path("tiny-sd"))
        let model = try CLIPTextModel(config: location.textEncoder.config, weights: location.textEncoder.weights)
        func refused(_ ids: [Int], _ words: String) {
            XCTAssertThrowsError(try model.encode(ids), "\(ids.count) ids") { error in
                XCTAssertTrue(error is TextEncoderInputError, "\(type(of: error)): \(error)")
                XCTAssertTrue("\(error)".contains(words), "\(error)")
            }
        }
        refused([], "1 to 77 tokens, got 0")
        refused(Array(repeating: 320, count: 78), "1 to 77 tokens, got 78")
        refused([49406, model.shape.vocabSize, 49407], "token id \(model.shape.vocabSize) is outside the vocabulary")
        refused([49406, -1, 49407], "token id -1")
        XCTAssertEqual(try model.encode([49406, 320, 49407]).shape, [3, model.shape.hiddenSize])
    }

    func testTheVAERefusesLatentsAndImagesOfAnotherShape() throws {
        let component = try ModelComponent<VAEConfig>.open(directory: Fixtures.path("tiny-sd15/vae"))
        let vae = try AutoencoderKL(config: component.config, weights: component.weights)
        let l = vae.shape.latentChannels
        for shape in [[1, l + 1, 4, 4], [l, 4, 4], [1, l, 0, 4]] {
            XCTAssertThrowsError(try vae.decode(Tensor(zeros: shape))) { error in
                XCTAssertTrue(error is ShapeError, "\(type(of: error)): \(error)")
                XCTAssertTrue("\(error)".contains("\(shape)") && "\(error)".contains("[N, \(l), h, w]"), "\(error)")
            }
        }
        XCTAssertThrowsError(try vae.encode(Tensor(zeros: [1, 4, 8, 8]))) { error in
            XCTAssertTrue("\(error)".contains("[1, 4, 8, 8]") && "\(error)".contains("[N, \(vae.shape.inChannels), H, W]"), "\(error)")
        }
        XCTAssertEqual(try vae.decode(Tensor(zeros: [1, l, 4, 4])).shape[1], vae.shape.outChannels)
    }
}
