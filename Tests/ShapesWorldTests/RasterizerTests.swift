import XCTest
import ImageIO
@testable import ShapesWorld

final class RasterizerTests: XCTestCase {
    private func attrs(_ shape: ShapeKind = .square, _ pattern: ShapePattern = .plain, size: ShapeSize = .large,
                       position: ShapePosition = .center) -> ShapeAttributes {
        ShapeAttributes(color: .red, background: .blue, shape: shape, size: size, position: position, pattern: pattern)
    }

    private func pixels(_ image: RGBImage, equalTo c: PaletteColor) -> Int {
        let (r, g, b) = Rasterizer.bytes(c.rgb)
        return (0..<(image.width * image.height)).filter { i in
            image.pixels[3 * i] == r && image.pixels[3 * i + 1] == g && image.pixels[3 * i + 2] == b
        }.count
    }

    func testPlainObjectHasExactPaletteColoursAwayFromEdges() {
        let image = Rasterizer().draw(attrs(.circle), side: 128)
        XCTAssertTrue(image[64, 64] == (220, 40, 40), "centre is the object colour")
        XCTAssertTrue(image[0, 0] == (40, 80, 220), "corner is the background colour")
    }

    func testLargeSquareCoversAboutPointFiveFiveSquared() {
        let image = Rasterizer().draw(attrs(), side: 200)
        XCTAssertEqual(Double(pixels(image, equalTo: .red)) / 40000, 0.55 * 0.55, accuracy: 0.02)
    }

    func testEdgesAreAntiAliased() {
        let image = Rasterizer().draw(attrs(.circle), side: 128)
        let blended = (0..<(128 * 128)).filter { i in
            let px = Array(image.pixels[(3 * i)..<(3 * i + 3)])
            return px != [220, 40, 40] && px != [40, 80, 220]
        }.count
        XCTAssertGreaterThan(blended, 100, "the rim of a disc of 70 px diameter has intermediate colours")
    }

    func testStripesCoverAboutAThirdAndDotsAboutPiOverSixteenInTheDarkColour() {
        let dark = PaletteColor.red.rgb.scaled(0.55)
        func darkShare(_ p: ShapePattern) -> Double {
            let image = Rasterizer(supersampling: 1).draw(attrs(.square, p), side: 512)
            // Count inside a window of whole dot cells (5 x 5 periods of 512/12 around the
            // centre), so dots cut by the object's edge do not skew the share.
            var darkCount = 0, object = 0
            let half = 2.5 * 512.0 / 12.0
            for y in 0..<512 { for x in 0..<512 where abs(Double(x) + 0.5 - 256) < half && abs(Double(y) + 0.5 - 256) < half {
                let i = y * 512 + x
                let c = RGB(Double(image.pixels[3 * i]), Double(image.pixels[3 * i + 1]), Double(image.pixels[3 * i + 2]))
                if c.distanceSquared(to: dark) < 4 { darkCount += 1; object += 1 }
                else if c.distanceSquared(to: PaletteColor.red.rgb) < 4 { object += 1 }
            } }
            return Double(darkCount) / Double(object)
        }
        XCTAssertEqual(darkShare(.plain), 0)
        XCTAssertEqual(darkShare(.striped), 1.0 / 3.0, accuracy: 0.02)
        XCTAssertEqual(darkShare(.dotted), Double.pi / 16, accuracy: 0.02)
    }

    func testPositionsOffsetTheCentreBySpecAmounts() {
        for (size, offset) in [(ShapeSize.small, 0.22), (.large, 0.17)] {
            for position in ShapePosition.allCases {
                let image = Rasterizer().draw(attrs(.circle, size: size, position: position), side: 200)
                var sx = 0.0, sy = 0.0, n = 0.0
                for y in 0..<200 { for x in 0..<200 where image[x, y] == (220, 40, 40) {
                    sx += Double(x) + 0.5; sy += Double(y) + 0.5; n += 1 } }
                let d = position.direction
                XCTAssertEqual(sx / n / 200 - 0.5, d.dx * offset, accuracy: 0.005, "\(size) \(position) x")
                XCTAssertEqual(sy / n / 200 - 0.5, d.dy * offset, accuracy: 0.005, "\(size) \(position) y")
            }
        }
    }

    func testDrawingIsDeterministic() {
        let a = WorldSampler.example(seed: 1, index: 1).attributes
        XCTAssertEqual(Rasterizer().draw(a, side: 64), Rasterizer().draw(a, side: 64))
    }
}
