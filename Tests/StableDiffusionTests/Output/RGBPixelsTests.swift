import XCTest
import Compute
@testable import StableDiffusion

/// The one conversion from the VAE's float output to RGB8 (generate and workers alike).
final class RGBPixelsTests: XCTestCase {
    /// The conversion as `StableDiffusionPipeline.rgbBytes` did it before it moved.
    private func oldRGBBytes(_ image: Tensor) -> [UInt8] {
        let (h, w) = (image.shape[2], image.shape[3])
        var out = [UInt8](repeating: 0, count: h * w * 3)
        for c in 0..<3 {
            for p in 0..<(h * w) {
                let v = min(1, max(0, image.pointer[c * h * w + p] / 2 + 0.5))
                out[p * 3 + c] = UInt8((v * 255).rounded(.toNearestOrEven))
            }
        }
        return out
    }

    func testValuesOutsideTheRangeClampAndHalfwayRoundsToEven() {
        // One pixel per value, the same value in all three planes.
        let values: [Float] = [-7, -1.5, -1, 0, 1, 1.25, 40]
        let plane = values
        let image = Tensor(shape: [1, 3, 1, values.count], values: plane + plane + plane)
        let pixels = RGBPixels(decoded: image)
        XCTAssertEqual(pixels.width, values.count)
        XCTAssertEqual(pixels.height, 1)
        XCTAssertEqual(pixels.imageShape, [1, 3, 1, values.count])
        let red = stride(from: 0, to: pixels.rgb.count, by: 3).map { pixels.rgb[$0] }
        // 0 maps to 127.5, which rounds to the even 128.
        XCTAssertEqual(red, [0, 0, 0, 128, 255, 255, 255])
        XCTAssertEqual(pixels.rgb, oldRGBBytes(image))
    }

    func testPlanesAreInterleavedAndMatchTheOldConversion() {
        let (h, w) = (3, 5)
        let values = (0..<(3 * h * w)).map { Float($0) * 0.037 - 1.3 }
        let image = Tensor(shape: [1, 3, h, w], values: values)
        let pixels = RGBPixels(decoded: image)
        XCTAssertEqual(pixels.rgb, oldRGBBytes(image))
        XCTAssertEqual(pixels.rgb.count, h * w * 3)
        // Pixel 1's green is plane 1, element 1.
        let green = min(1, max(0, values[h * w + 1] / 2 + 0.5))
        XCTAssertEqual(pixels.rgb[1 * 3 + 1], UInt8((green * 255).rounded(.toNearestOrEven)))
        // A dense sweep over and past [-1, 1].
        let sweep = (0..<(3 * 64 * 64)).map { Float($0) / Float(3 * 64 * 64) * 3.2 - 1.6 }
        let big = Tensor(shape: [1, 3, 64, 64], values: sweep)
        XCTAssertEqual(RGBPixels(decoded: big).rgb, oldRGBBytes(big))
    }
}
