import Compute
import XCTest

final class ConvolutionTests: XCTestCase {
    func testThreeByThreeConvolutionMatchesNaiveReference() throws {
        let x = Reference.tensor([2, 7, 5, 6], seed: 1), w = Reference.tensor([8, 6, 3, 3], seed: 2), b = Reference.tensor([8], seed: 3)
        let conv = try Conv2D(weight: w, bias: b, padding: 1)
        XCTAssertLessThan(Reference.maxError(try conv(x), Reference.conv(x, w, b, stride: 1, pad: (1, 1, 1, 1))), 1e-5)
    }

    func testStrideTwoWithAsymmetricPaddingMatchesReference() throws {
        // The VAE encoder's downsampler pads only bottom and right.
        let x = Reference.tensor([1, 8, 8, 4], seed: 4), w = Reference.tensor([4, 4, 3, 3], seed: 5), b = Reference.tensor([4], seed: 6)
        let conv = try Conv2D(weight: w, bias: b, stride: 2, padding: (0, 0, 1, 1))
        let y = try conv(x)
        XCTAssertEqual(y.shape, [1, 4, 4, 4])
        XCTAssertLessThan(Reference.maxError(y, Reference.conv(x, w, b, stride: 2, pad: (0, 0, 1, 1))), 1e-5)
    }

    func testOneByOneConvolutionWithoutBias() throws {
        let x = Reference.tensor([1, 3, 3, 16], seed: 7), w = Reference.tensor([5, 16, 1, 1], seed: 8)
        let conv = try Conv2D(weight: w, bias: nil, padding: 0)
        XCTAssertLessThan(Reference.maxError(try conv(x), Reference.conv(x, w, nil, stride: 1, pad: (0, 0, 0, 0))), 1e-5)
    }

    func testFusedResidualAddsAfterConvolution() throws {
        let x = Reference.tensor([1, 4, 4, 8], seed: 9), w = Reference.tensor([8, 8, 3, 3], seed: 10)
        let r = Reference.tensor([1, 4, 4, 8], seed: 11)
        let conv = try Conv2D(weight: w, bias: nil, padding: 1)
        let expected = try Elementwise.add(Reference.conv(x, w, nil, stride: 1, pad: (1, 1, 1, 1)), r)
        XCTAssertLessThan(Reference.maxError(try conv(x, residual: r), expected), 1e-5)
    }

    func testSameLayerServesSeveralInputSizes() throws {
        let w = Reference.tensor([4, 4, 3, 3], seed: 12)
        let conv = try Conv2D(weight: w, bias: nil, padding: 1)
        for (h, wd) in [(4, 4), (8, 6), (4, 4)] {
            let x = Reference.tensor([1, h, wd, 4], seed: UInt64(h * wd))
            XCTAssertLessThan(Reference.maxError(try conv(x), Reference.conv(x, w, nil, stride: 1, pad: (1, 1, 1, 1))), 1e-5)
        }
    }

    func testEachSampleIsBitIdenticalAloneOrInABatch() throws {
        let w = Reference.tensor([32, 16, 3, 3], seed: 13)
        let conv = try Conv2D(weight: w, bias: nil, padding: 1)
        let a = Reference.tensor([1, 16, 16, 16], seed: 14), b = Reference.tensor([1, 16, 16, 16], seed: 15)
        let batched = try conv(try Tensor.concatenateBatch([a, b]))
        XCTAssertEqual(batched.sample(1).values, try conv(b).values)
        XCTAssertEqual(batched.sample(0).values, try conv(a).values)
    }
}
