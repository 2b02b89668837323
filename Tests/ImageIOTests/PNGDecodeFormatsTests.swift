import XCTest
@testable import ImageIO

/// Decoding files that libpng did not write: gray, gray+alpha, RGBA, built from the spec.
final class PNGDecodeFormatsTests: XCTestCase {
    func testHandMadeRGBDecodesExactly() throws {
        let rows: [[UInt8]] = [[1, 2, 3, 250, 251, 252], [9, 8, 7, 0, 128, 255]]
        let png = HandMadePNG.make(width: 2, height: 2, colorType: 2, rows: rows)
        XCTAssertEqual(try PNG.decode(png).pixels, rows.flatMap { $0 })
    }

    func testGrayDecodesToEqualRGBChannels() throws {
        let png = HandMadePNG.make(width: 3, height: 1, colorType: 0, rows: [[0, 100, 255]])
        XCTAssertEqual(try PNG.decode(png).pixels, [0, 0, 0, 100, 100, 100, 255, 255, 255])
    }

    func testOpaqueRGBAKeepsColourAndTransparentBecomesWhite() throws {
        let png = HandMadePNG.make(width: 2, height: 1, colorType: 6, rows: [[10, 20, 30, 255, 200, 100, 50, 0]])
        XCTAssertEqual(try PNG.decode(png).pixels, [10, 20, 30, 255, 255, 255])
    }

    func testGrayAlphaDecodes() throws {
        let png = HandMadePNG.make(width: 2, height: 1, colorType: 4, rows: [[77, 255, 0, 0]])
        XCTAssertEqual(try PNG.decode(png).pixels, [77, 77, 77, 255, 255, 255])
    }
}
