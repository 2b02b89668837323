import Compute
import StableDiffusion
import XCTest

/// Guidance rescale (diffusers' `rescale_noise_cfg`): the arithmetic, and the field through
/// validation, JSONL and PNG parameters. Parity with diffusers' pipeline is in
/// StableDiffusion2ParityTests (zero-SNR DDIM and Euler a with the cut-off).
final class GuidanceRescaleTests: XCTestCase {
    /// cond [1, 3] has std sqrt(2) (unbiased), guided [0, 4] std sqrt(8): the factor is 1/2, so
    /// phi 1 gives [0, 2] and phi 0.5 gives the mean of [0, 2] and [0, 4].
    func testTheGuidedPredictionIsBlendedWithItselfRescaledToTheConditionalSpread() throws {
        let cond = Tensor(shape: [1, 2], values: [1, 3]), guided = Tensor(shape: [1, 2], values: [0, 4])
        XCTAssertEqual(try GuidanceRescale.apply(1, guided: guided, cond: cond).values, [0, 2])
        XCTAssertEqual(try GuidanceRescale.apply(0.5, guided: guided, cond: cond).values, [0, 3])
        XCTAssertEqual(try GuidanceRescale.apply(0, guided: guided, cond: cond).values, [0, 4], "phi 0 is off")
    }

    func testAPhiOutsideZeroToOneIsRefusedNamingTheField() {
        for phi: Float in [-0.1, 1.5, .nan] {
            let request = GenerationRequest(prompt: "a", guidanceRescale: phi)
            let problems = RequestValidation.problems(in: request, model: nil)
            XCTAssertEqual(problems.map(\.field), ["guidance_rescale"], "\(phi)")
        }
        XCTAssertTrue(RequestValidation.problems(in: GenerationRequest(prompt: "a", guidanceRescale: 0.7), model: nil).isEmpty)
    }

    func testTheJSONLFieldAndThePNGParametersCarryIt() throws {
        let read = try PromptFile.parse(text: #"{"prompt": "a cat", "guidance_rescale": 0.7}"#,
                                        defaults: GenerationRequest(prompt: ""), format: .jsonLines, source: "t.jsonl")
        XCTAssertEqual(read.map(\.guidanceRescale), [0.7])
        var request = read[0]
        request.guidanceScale = 7.5
        request.width = 64
        request.height = 64
        let text = GenerationParameters(request: request).text
        XCTAssertTrue(text.contains("Guidance rescale: 0.7"), text)
        XCTAssertEqual(try GenerationParameters(parsing: text).request.guidanceRescale, 0.7)
        XCTAssertFalse(GenerationParameters(request: GenerationRequest(prompt: "a")).text.contains("Guidance rescale"),
                       "not written when off")
    }
}
