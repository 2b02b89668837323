@testable import Compute
import XCTest

/// `UpsampleConvolution` is nearest 2x upsampling + a 3x3 convolution (padding 1), computed as a
/// stride-2 transposed convolution with folded 4x4 weights.
final class UpsampleConvolutionTests: XCTestCase {
    /// The old path: upsample, then the 3x3 convolution, in fp64.
    private func upsampleThenConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?) throws -> Tensor {
        Reference.conv(try Elementwise.upsampleNearest2x(x), w, b, stride: 1, pad: (1, 1, 1, 1))
    }

    /// A transposed convolution (stride 2, padding 1, `[O, I, 4, 4]` weights) in fp64, written
    /// from its definition: input pixel i feeds output rows 2i + t - 1 through tap t.
    private func transposedConv(_ x: Tensor, _ k: Tensor, _ b: Tensor?) -> Tensor {
        let (n, h, wd, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), o = k.shape[0]
        var out = [Double](repeating: 0, count: n * 4 * h * wd * o)
        let xv = x.values, kv = k.values
        for bi in 0..<n { for iy in 0..<h { for ix in 0..<wd { for ty in 0..<4 { for tx in 0..<4 {
            let oy: Int = 2 * iy + ty - 1, ox: Int = 2 * ix + tx - 1
            if oy < 0 || oy >= 2 * h || ox < 0 || ox >= 2 * wd { continue }
            let inBase: Int = ((bi * h + iy) * wd + ix) * c
            let outBase: Int = ((bi * 2 * h + oy) * 2 * wd + ox) * o
            for oc in 0..<o {
                var s = 0.0
                for ic in 0..<c {
                    let kIndex: Int = ((oc * c + ic) * 4 + ty) * 4 + tx
                    s += Double(xv[inBase + ic]) * Double(kv[kIndex])
                }
                out[outBase + oc] += s
            }
        } } } } }
        if let b {
            let bv = b.values
            for i in 0..<out.count { out[i] += Double(bv[i % o]) }
        }
        return Tensor(shape: [n, 2 * h, 2 * wd, o], values: out.map { Float($0) })
    }

    private func rounded(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, values: t.values.map { BFloat16.float(BFloat16.bits($0)) }) }

    private func scale(_ t: Tensor) -> Float { t.values.map(abs).max() ?? 0 }

    func testMatchesUpsamplingThenConvolvingAtSeveralSizes() throws {
        // Odd, non-square, one-pixel and wider inputs: the borders of every output parity.
        for (i, (h, w, c, o)) in [(5, 7, 6, 8), (1, 1, 4, 3), (1, 6, 3, 5), (8, 8, 16, 16), (3, 2, 20, 12)].enumerated() {
            let seed = UInt64(10 * i)
            let x = Reference.tensor([1, h, w, c], seed: seed + 1), wt = Reference.tensor([o, c, 3, 3], seed: seed + 2)
            let b = Reference.tensor([o], seed: seed + 3)
            let layer = try UpsampleConvolution(weight: wt, bias: b)
            let y = try layer(x)
            XCTAssertEqual(y.shape, [1, 2 * h, 2 * w, o])
            XCTAssertLessThan(Reference.maxError(y, try upsampleThenConv(x, wt, b)), 1e-5, "\(h)x\(w) \(c)->\(o)")
        }
    }

    /// oneDNN 3.2's strided deconvolution adds wrong biases from 1024 output channels on (off by
    /// up to 3 x the bias, where every SD UNet has its first two upsamplers: 1280 channels); the
    /// layer adds its bias itself. At SD's widths and smallest inputs, with a bias, it must equal
    /// upsampling and then the 3x3 convolution (Conv2D, whose bias is right), and the output
    /// without a bias plus the bias, bit for bit.
    func testTheBiasIsRightAtTheWidestUpsamplers() throws {
        for (i, (c, side)) in [(1280, 2), (1024, 4), (640, 2)].enumerated() {
            let seed = UInt64(100 + 10 * i)
            let x = Reference.tensor([1, side, side, c], seed: seed), wt = Reference.tensor([c, c, 3, 3], seed: seed + 1)
            let b = Reference.tensor([c], seed: seed + 2)
            let y = try UpsampleConvolution(weight: wt, bias: b)(x)
            let plain = try Conv2D(weight: wt, bias: b, padding: 1)(Elementwise.upsampleNearest2x(x))
            XCTAssertLessThan(Reference.maxError(y, plain), 1e-5 * max(1, scale(plain)), "\(c) channels at \(side)x\(side)")
            let unbiased = try UpsampleConvolution(weight: wt, bias: nil)(x).values, bias = b.values
            let biased = y.values
            XCTAssertTrue(biased.indices.allSatisfy { biased[$0].bitPattern == (unbiased[$0] + bias[$0 % c]).bitPattern },
                          "\(c) channels: the bias is one addition to the finished sum")
        }
    }

    func testWithoutBiasMatchesTheOldPathThroughConv2D() throws {
        let x = Reference.tensor([2, 6, 5, 32], seed: 1), wt = Reference.tensor([24, 32, 3, 3], seed: 2)
        let old = try Conv2D(weight: wt, bias: nil, padding: 1)(Elementwise.upsampleNearest2x(x))
        let new = try UpsampleConvolution(weight: wt, bias: nil)(x)
        XCTAssertLessThan(Reference.maxError(new, old), 1e-5 * max(1, scale(old)))
    }

    func testFoldedWeightsAreTheTransposedKernelOfTheUpsampledConvolution() throws {
        let x = Reference.tensor([1, 4, 3, 5], seed: 3), wt = Reference.tensor([7, 5, 3, 3], seed: 4), b = Reference.tensor([7], seed: 5)
        let folded = UpsampleConvolution.foldedWeights(wt)
        XCTAssertEqual(folded.shape, [7, 5, 4, 4])
        XCTAssertLessThan(Reference.maxError(transposedConv(x, folded, b), try upsampleThenConv(x, wt, b)), 1e-5)
        // A corner tap is one 3x3 tap; the centre taps are sums of four.
        XCTAssertEqual(folded.pointer[0], wt.pointer[8])
        let w = wt.pointer
        XCTAssertEqual(Double(folded.pointer[5]), Double(w[4]) + Double(w[5]) + Double(w[7]) + Double(w[8]), accuracy: 1e-6)
    }

    func testUnfoldedConvolutionIsTheOriginalThreeByThreeOneBeforeAndAfterFirstUse() throws {
        let wt = Reference.tensor([12, 10, 3, 3], seed: 30), b = Reference.tensor([12], seed: 31)
        // Any input, not only an upsampled one: here 5x3, as a nearest resize to 2h-1 gives.
        let x = Reference.tensor([1, 5, 3, 10], seed: 32)
        let expected = Reference.conv(x, wt, b, stride: 1, pad: (1, 1, 1, 1))
        let fresh = try UpsampleConvolution(weight: wt, bias: b)
        XCTAssertLessThan(Reference.maxError(try fresh.unfoldedConvolution()(x), expected), 1e-5)
        let used = try UpsampleConvolution(weight: wt, bias: b)
        _ = try used(Reference.tensor([1, 4, 4, 10], seed: 33))  // packs the folded weights
        XCTAssertLessThan(Reference.maxError(try used.unfoldedConvolution()(x), expected), 1e-5)
        XCTAssertLessThan(Reference.maxError(UpsampleConvolution.unfoldedWeights(UpsampleConvolution.foldedWeights(wt)), wt), 1e-6)
    }

    func testEachSampleIsBitIdenticalAloneOrInABatch() throws {
        let wt = Reference.tensor([32, 16, 3, 3], seed: 6), b = Reference.tensor([32], seed: 7)
        let layer = try UpsampleConvolution(weight: wt, bias: b)
        let samples = (0..<3).map { Reference.tensor([1, 9, 11, 16], seed: 8 + UInt64($0)) }
        let batched = try layer(Tensor.concatenateBatch(samples))
        for (i, s) in samples.enumerated() { XCTAssertEqual(batched.sample(i).values, try layer(s).values, "sample \(i)") }
    }

    func testGivesTheSameBitsOnOneAndTwoThreads() throws {
        let x = Reference.tensor([2, 24, 20, 64], seed: 11)
        let wt = Reference.tensor([96, 64, 3, 3], seed: 12), b = Reference.tensor([96], seed: 13)
        // A new layer per thread count: oneDNN primitives are made for the count in force.
        let one = try Threads.withEveryOperationParallel(threads: 1) { try UpsampleConvolution(weight: wt, bias: b)(x).values }
        let two = try Threads.withEveryOperationParallel(threads: 2) { () throws -> [Float] in
            XCTAssertEqual(Threads.count, 2)
            return try UpsampleConvolution(weight: wt, bias: b)(x).values
        }
        XCTAssertTrue(one == two, "\(zip(one, two).filter { $0 != $1 }.count) of \(one.count) values differ between 1 and 2 threads")
    }

    func testRunsOnAJITImplementationNotAReferenceOne() throws {
        let layer = try UpsampleConvolution(weight: Reference.tensor([64, 64, 3, 3], seed: 14), bias: Reference.tensor([64], seed: 15))
        let implementation = try layer.implementation(height: 32, width: 32)
        XCTAssertFalse(implementation.hasPrefix("ref"), "oneDNN picked \(implementation) (\(EngineISA.current))")
    }

    func testBF16IsTheRoundedFoldedWeightsAndInputsInFP32AndCloseToTheOldPath() throws {
        guard EngineISA.hasNativeBFloat16 else {
            XCTAssertThrowsError(try Precision.bf16.checkSupported())
            return
        }
        let x = Reference.tensor([2, 7, 6, 24], seed: 16), wt = Reference.tensor([16, 24, 3, 3], seed: 17), b = Reference.tensor([16], seed: 18)
        let layer = try UpsampleConvolution(weight: wt, bias: b, precision: .bf16)
        XCTAssertEqual(layer.precision, .bf16)
        let y = try layer(x)
        let expected = transposedConv(rounded(x), rounded(UpsampleConvolution.foldedWeights(wt)), b)
        XCTAssertLessThan(Reference.maxError(y, expected), 1e-4)
        // Against the old bf16 path (upsample, then a bf16 3x3 convolution): bf16's own error.
        let old = try Conv2D(weight: wt, bias: b, padding: 1, precision: .bf16)(Elementwise.upsampleNearest2x(x))
        XCTAssertLessThan(Reference.maxError(y, old), 2e-2 * scale(old))
        for i in 0..<2 { XCTAssertEqual(try layer(x.sample(i)).values, y.sample(i).values, "sample \(i)") }
    }

    func testRefusesWeightsAndInputsOfTheWrongShape() throws {
        XCTAssertThrowsError(try UpsampleConvolution(weight: Tensor(zeros: [4, 4, 1, 1]), bias: nil)) { error in
            XCTAssertTrue(error is ShapeError && "\(error)".contains("[O, I, 3, 3]"), "\(error)")
        }
        XCTAssertThrowsError(try UpsampleConvolution(weight: Tensor(zeros: [4, 4, 3, 3]), bias: Tensor(zeros: [3]))) { error in
            XCTAssertTrue(error is ShapeError, "\(error)")
        }
        let layer = try UpsampleConvolution(weight: Tensor(zeros: [4, 4, 3, 3]), bias: nil)
        XCTAssertThrowsError(try layer(Tensor(zeros: [1, 4, 4, 3]))) { error in
            XCTAssertTrue(error is ShapeError && "\(error)".contains("[N, H, W, 4]"), "\(error)")
        }
    }
}
