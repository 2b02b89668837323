import XCTest
import ImageIO
@testable import ShapesWorld

/// The judge must recover what the generator drew: at least 99% on every attribute.
final class JudgeAgreesWithGeneratorTests: XCTestCase {
    private func report(count: Int, side: Int, seed: UInt64) -> JudgeReport {
        let judge = Judge(), rasterizer = Rasterizer()
        var report = JudgeReport()
        for i in 0..<count {
            let example = WorldSampler.example(seed: seed, index: i)
            let judged = judge.judge(rasterizer.draw(example.attributes, side: side))
            // Judge against every attribute the image holds, not only the caption's.
            report.add(Judge.agreement(judged, StatedAttributes(all: example.attributes)))
        }
        return report
    }

    private func assertAtLeast99(_ report: JudgeReport, _ label: String) {
        for a in Judge.Attribute.allCases {
            let tally = report.attributes[a.rawValue]!
            XCTAssertEqual(tally.stated, report.images, "\(label): \(a) judged on every image")
            XCTAssertGreaterThanOrEqual(tally.share!, 0.99, "\(label): \(a) \(tally.agreed)/\(tally.stated)")
        }
        XCTAssertGreaterThanOrEqual(report.allAgreedShare, 0.99, "\(label): all attributes")
    }

    func testJudgeScoresAThousandGeneratedImagesAt64PixelsAtLeast99Percent() {
        assertAtLeast99(report(count: 1000, side: 64, seed: 11), "1000 at 64 px")
    }

    func testJudgeScoresGeneratedImagesAt128PixelsAtLeast99Percent() {
        assertAtLeast99(report(count: 200, side: 128, seed: 12), "200 at 128 px")
    }

    func testJudgeReadsImagesThroughPNGTheSame() throws {
        let example = WorldSampler.example(seed: 5, index: 3)
        let image = Rasterizer().draw(example.attributes, side: 96)
        let decoded = try PNG.decode(PNG.encode(image))
        XCTAssertEqual(Judge().judge(decoded), Judge().judge(image))
    }

    func testAFlatImageHasNoObject() {
        let judged = Judge().judge(RGBImage(width: 32, height: 32, fill: (40, 80, 220)))
        XCTAssertEqual(judged.background, .blue)
        XCTAssertNil(judged.shape)
        XCTAssertNil(judged.color)
        let agreement = Judge.agreement(judged, Caption.parse("a red circle on a blue background"))
        XCTAssertEqual(agreement[.background], true)
        XCTAssertEqual(agreement[.color], false)
        XCTAssertEqual(agreement[.shape], false)
    }

    func testWrongCaptionIsJudgedWrong() {
        let a = ShapeAttributes(color: .red, background: .blue, shape: .circle, size: .large, position: .left, pattern: .plain)
        let judged = Judge().judge(Rasterizer().draw(a, side: 128))
        let agreement = Judge.agreement(judged, Caption.parse("a small green square on the right on a white background"))
        XCTAssertEqual(agreement.count, 5)
        XCTAssertTrue(agreement.values.allSatisfy { !$0 }, "\(agreement)")
    }
}
