import ImageIO
import ShapesWorld
import StableDiffusion
import XCTest

/// The shipped model draws what its prompts say, as far as it has learnt to, by the shapes-world
/// judge: a broken engine, sampler, text path or model export fails here.
///
/// The model is still short of training (docs/default-model.md: on 200 held-out captions the
/// judge agrees on the object's colour for 55% of images, against a chance level of 12.5%; shape,
/// background, position and size are not followed reliably yet, so they are not asserted). On
/// these 16 seeded captions it gets 8 colours right here; 6 or more by chance has a probability
/// under 1%.
final class ShippedModelFollowsPromptsTests: XCTestCase {
    func testJudgeAgreesWithObjectColoursWellAboveChance() throws {
        let judge = Judge()
        var colours = 0
        for i in 0..<16 {
            let a = WorldSampler.example(seed: 11, index: i).attributes
            let prompt = Caption.text(StatedAttributes(color: a.color, background: a.background, shape: a.shape))
            let image = try ShippedModel.fp32.generate(GenerationRequest(prompt: prompt, seed: UInt64(100 + i)))
            let judged = judge.judge(RGBImage(width: image.width, height: image.height, pixels: image.rgb))
            if Judge.agreement(judged, Caption.parse(prompt))[.color] == true { colours += 1 }
        }
        XCTAssertGreaterThanOrEqual(colours, 6, "object colour right in \(colours) of 16 images")
    }
}
