import ImageIO
import XCTest

/// The probes' plots and distance: a chart shows its series, PSNR has its textbook values.
final class LineChartTests: XCTestCase {
    func testChartDrawsEachSeriesInItsColourAndEncodesAsPNG() throws {
        let chart = LineChart(title: "Test 1", xLabel: "step", yLabel: "%", series: [
            .init(name: "a", color: (214, 39, 40), points: [(0, 0), (1, 1), (2, 4)]),
            .init(name: "b", color: (44, 160, 44), points: [(0, 2), (2, 2)]),
        ])
        let image = chart.render(width: 300, height: 200)
        XCTAssertEqual(image.width, 300)
        func count(_ c: (UInt8, UInt8, UInt8)) -> Int {
            stride(from: 0, to: image.pixels.count, by: 3).filter { image.pixels[$0] == c.0 && image.pixels[$0 + 1] == c.1 && image.pixels[$0 + 2] == c.2 }.count
        }
        XCTAssertGreaterThan(count((214, 39, 40)), 100)
        XCTAssertGreaterThan(count((44, 160, 44)), 100)
        XCTAssertGreaterThan(count((0, 0, 0)), 100)   // axes and text
        XCTAssertEqual(try PNG.decode(try PNG.encode(image)), image)
    }

    func testPSNR() {
        let a = RGBImage(width: 2, height: 2, fill: (100, 100, 100))
        XCTAssertEqual(a.psnr(to: a), .infinity)
        XCTAssertEqual(a.psnr(to: a, identicalValue: 100), 100)
        let b = RGBImage(width: 2, height: 2, fill: (110, 100, 100))   // MSE = 100 / 3
        XCTAssertEqual(a.psnr(to: b)!, 10 * log10(255 * 255 / (100.0 / 3)), accuracy: 1e-9)
        XCTAssertNil(a.psnr(to: RGBImage(width: 1, height: 1)))
    }
}
