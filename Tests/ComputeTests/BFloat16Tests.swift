@testable import Compute
import CKernels
import XCTest

/// The bf16 path: rounding, and layers that compute on bf16-rounded inputs and weights with fp32
/// accumulation (checked against the naive fp64 references fed with the same rounded values).
final class BFloat16Tests: XCTestCase {
    /// Nearest bfloat16 by comparing the two neighbours in fp64; ties go to the even one.
    private func referenceRound(_ x: Float) -> Float {
        let lower = Float(bitPattern: x.bitPattern & 0xFFFF_0000)
        let upper = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
        let dl = abs(Double(x) - Double(lower)), du = abs(Double(upper) - Double(x))
        if dl != du { return dl < du ? lower : upper }
        return (lower.bitPattern >> 16) & 1 == 0 ? lower : upper
    }

    private func rounded(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, values: t.values.map(referenceRound)) }

    /// Runs a bf16 layer check where this CPU (under any ISA cap) has native bf16 kernels; on
    /// others asserts instead that bf16 is refused with the reason, so neither case passes silently.
    private func onNativeBFloat16(_ body: () throws -> Void) rethrows {
        if EngineISA.hasNativeBFloat16 { return try body() }
        XCTAssertThrowsError(try Precision.bf16.checkSupported()) { error in
            XCTAssertEqual(error as? EngineError, .bfloat16Unsupported(isa: EngineISA.current))
            XCTAssertTrue("\(error)".contains("--precision fp32"), "the refusal says what to use: \(error)")
        }
    }

    func testRoundingIsNearestWithTiesToEven() {
        XCTAssertEqual(BFloat16.bits(1.0), 0x3F80)
        XCTAssertEqual(BFloat16.bits(-2.0), 0xC000)
        XCTAssertEqual(BFloat16.bits(Float(bitPattern: 0x3F80_8001)), 0x3F81, "above the tie rounds up")
        XCTAssertTrue(BFloat16.float(BFloat16.bits(Float(bitPattern: 0x7F80_0001))).isNaN, "a NaN with only low payload bits stays NaN")
        XCTAssertEqual(BFloat16.bits(.infinity), 0x7F80)
        XCTAssertEqual(BFloat16.float(BFloat16.bits(1 + 1.0 / 256)), 1.0, "a tie below an odd neighbour goes down to even")
        XCTAssertEqual(BFloat16.float(BFloat16.bits(1 + 3.0 / 256)), 1 + 4.0 / 256, "a tie goes up to the even neighbour")
        var state: UInt64 = 12345
        for _ in 0..<100_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32) & 0xBFFF_FFFF)  // finite values of any size
            XCTAssertEqual(BFloat16.float(BFloat16.bits(x)), referenceRound(x), "x = \(x)")
        }
        let src = (0..<5000).map { Float($0) * 0.001 - 2.5 }
        var dst = [UInt16](repeating: 0, count: src.count)
        BFloat16.convert(src, into: &dst, count: src.count)
        XCTAssertEqual(dst.map(BFloat16.float), src.map(referenceRound))
    }

    /// The array conversion (CKernels' vector loop, on the path the CPU allows, and its plain C
    /// path) gives the scalar `bits` of every float: random bit patterns of every kind (NaNs,
    /// infinities, subnormals, ties), at lengths that leave vector tails.
    func testArrayConversionGivesTheScalarBitsOnEveryPath() {
        var state: UInt64 = 99
        var src = (0..<100_003).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32))
        }
        src += [.nan, -.nan, .infinity, -.infinity, 0, -0.0, Float(bitPattern: 1), Float(bitPattern: 0x7F80_0001),
                Float(bitPattern: 0xFF80_0001), Float(bitPattern: 0x7FFF_FFFF), Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x7F7F_FFFF)]
        let expected = src.map(BFloat16.bits)
        XCTAssertTrue(src.contains { $0.isNaN } && src.contains { $0.isSubnormal }, "the sample covers NaNs and subnormals")
        for count in [src.count, 1, 15, 33] {
            var vector = [UInt16](repeating: 0, count: count), plain = vector, engine = vector
            sdc_float_to_bf16(src, &vector, Int64(count))
            sdc_float_to_bf16_portable(src, &plain, Int64(count))
            BFloat16.convert(src, into: &engine, count: count)
            let want = Array(expected.prefix(count))
            XCTAssertEqual(vector, want, "vector path (level \(sdc_kernels_level())), \(count) values")
            XCTAssertEqual(plain, want, "plain C path, \(count) values")
            XCTAssertEqual(engine, want, "BFloat16.convert, \(count) values")
        }
    }

    func testBF16ConvolutionIsTheRoundedInputsConvolvedInFP32() throws {
        try onNativeBFloat16 {
            let x = Reference.tensor([2, 9, 7, 24], seed: 21), w = Reference.tensor([16, 24, 3, 3], seed: 22), b = Reference.tensor([16], seed: 23)
            let r = Reference.tensor([2, 9, 7, 16], seed: 24)
            let conv = try Conv2D(weight: w, bias: b, padding: 1, precision: .bf16)
            XCTAssertEqual(conv.precision, .bf16)
            let expected = Reference.conv(rounded(x), rounded(w), b, stride: 1, pad: (1, 1, 1, 1))
            XCTAssertLessThan(Reference.maxError(try conv(x), expected), 1e-4)
            XCTAssertLessThan(Reference.maxError(try conv(x, residual: r), try Elementwise.add(expected, r)), 1e-4)
            // Not the fp32 result: the rounding really happens.
            let exact = Reference.conv(x, w, b, stride: 1, pad: (1, 1, 1, 1))
            XCTAssertGreaterThan(Reference.maxError(try conv(x), exact), 1e-3)
        }
    }

    func testBF16StridedConvolutionPerSampleMatchesTheBatch() throws {
        try onNativeBFloat16 {
            let x = Reference.tensor([3, 8, 8, 8], seed: 25), w = Reference.tensor([8, 8, 3, 3], seed: 26)
            let conv = try Conv2D(weight: w, bias: nil, stride: 2, padding: (0, 0, 1, 1), precision: .bf16)
            let batched = try conv(x)
            XCTAssertLessThan(Reference.maxError(batched, Reference.conv(rounded(x), rounded(w), nil, stride: 2, pad: (0, 0, 1, 1))), 1e-4)
            for i in 0..<3 { XCTAssertEqual(try conv(x.sample(i)).values, batched.sample(i).values, "sample \(i)") }
        }
    }

    func testBF16LinearWithActivationAndResidual() throws {
        try onNativeBFloat16 {
            let x = Reference.tensor([2, 5, 40], seed: 27), w = Reference.tensor([24, 40], seed: 28), b = Reference.tensor([24], seed: 29)
            let layer = try Linear(weight: w, bias: b, precision: .bf16)
            let expected = Reference.linear(rounded(x), rounded(w), b)
            XCTAssertLessThan(Reference.maxError(try layer(x), expected), 1e-4)
            let r = Reference.tensor([2, 5, 24], seed: 30)
            XCTAssertLessThan(Reference.maxError(try layer(x, residual: r), try Elementwise.add(expected, r)), 1e-4)
            let silu = Tensor(shape: expected.shape, values: expected.values.map { $0 / (1 + exp(-$0)) })
            XCTAssertLessThan(Reference.maxError(try layer(x, activation: .silu), silu), 1e-4)
        }
    }

    /// Layers wider than one 128-column tile compute each tile in a dense buffer and copy it into
    /// the output's rows (a residual out of them first): every column, a full 256-row tile and
    /// the 4-row one after it, and each sample land in their place.
    func testBF16LinearWiderThanOneTileWithResidualAndActivation() throws {
        try onNativeBFloat16 {
            let x = Reference.tensor([2, 260, 40], seed: 31), w = Reference.tensor([300, 40], seed: 32), b = Reference.tensor([300], seed: 33)
            let r = Reference.tensor([2, 260, 300], seed: 34)
            let layer = try Linear(weight: w, bias: b, precision: .bf16)
            let expected = Reference.linear(rounded(x), rounded(w), b)
            XCTAssertLessThan(Reference.maxError(try layer(x, residual: r), try Elementwise.add(expected, r)), 1e-4)
            let silu = Tensor(shape: expected.shape, values: expected.values.map { $0 / (1 + exp(-$0)) })
            XCTAssertLessThan(Reference.maxError(try layer(x, activation: .silu), silu), 1e-4)
            let out = Tensor(zeros: [2 * 260 * 300 + 7])
            try x.pointer.withMemoryRebound(to: Float.self, capacity: x.count) {
                try layer.apply($0, rows: 260, batch: 2, into: out.pointer)
            }
            XCTAssertEqual(Array(out.values.suffix(7)), [Float](repeating: 0, count: 7), "nothing past the output is written")
        }
    }

    func testBF16AttentionStaysCloseToFP32() throws {
        try onNativeBFloat16 {
            let (tq, tk, heads, d) = (33, 20, 2, 8)
            let q = Reference.tensor([tq, heads * d], seed: 31), k = Reference.tensor([tk, heads * d], seed: 32), v = Reference.tensor([tk, heads * d], seed: 33)
            let out = Tensor(uninitialized: [tq, heads * d])
            try Attention.compute(q: .init(q.pointer, rowStride: heads * d), k: .init(k.pointer, rowStride: heads * d),
                              v: .init(v.pointer, rowStride: heads * d), queryCount: tq, keyCount: tk, heads: heads, headDim: d,
                              precision: .bf16, out: out.pointer, outStride: heads * d)
            // Operands and probabilities are rounded to bf16 (8 significant bits): about 2^-8 relative.
            let expected = Reference.attention(q: q.values, k: k.values, v: v.values, tq: tq, tk: tk, heads: heads, d: d, causal: false)
            let error = Reference.maxError(out, Tensor(shape: [tq, heads * d], values: expected))
            XCTAssertLessThan(error, 1e-2)
            XCTAssertGreaterThan(error, 1e-6, "bf16 rounding leaves a trace")
        }
    }
}
