import Compute
import XCTest

final class LinearAndAttentionTests: XCTestCase {
    func testLinearMatchesReferenceWithBias() throws {
        let x = Reference.tensor([2, 5, 12], seed: 1), w = Reference.tensor([7, 12], seed: 2), b = Reference.tensor([7], seed: 3)
        let y = try Linear(weight: w, bias: b)(x)
        XCTAssertEqual(y.shape, [2, 5, 7])
        XCTAssertLessThan(Reference.maxError(y, Reference.linear(x, w, b)), 1e-5)
    }

    func testLinearActivationsAndResidual() throws {
        let x = Reference.tensor([3, 8], seed: 4), w = Reference.tensor([8, 8], seed: 5)
        let plain = Reference.linear(x, w, nil)
        let layer = try Linear(weight: w, bias: nil)
        let silu = try layer(x, activation: .silu)
        let gelu = try layer(x, activation: .geluErf)
        let quick = try layer(x, activation: .quickGELU)
        for i in 0..<plain.count {
            let v = plain.pointer[i]
            XCTAssertEqual(silu.pointer[i], v / (1 + exp(-v)), accuracy: 1e-5)
            XCTAssertEqual(gelu.pointer[i], 0.5 * v * (1 + erf(v / 2.0.squareRoot().asFloat)), accuracy: 1e-5)
            XCTAssertEqual(quick.pointer[i], v / (1 + exp(-1.702 * v)), accuracy: 1e-5)
        }
        let r = Reference.tensor([3, 8], seed: 6)
        XCTAssertLessThan(Reference.maxError(try layer(x, residual: r), try Elementwise.add(plain, r)), 1e-5)
    }

    func testTiledAttentionMatchesReference() throws {
        let (tq, tk, heads, d) = (37, 37, 3, 4)
        let q = Reference.tensor([tq, heads * d], seed: 7), k = Reference.tensor([tk, heads * d], seed: 8), v = Reference.tensor([tk, heads * d], seed: 9)
        let saved = Attention.maxTileFloats
        defer { Attention.maxTileFloats = saved }
        for tile in [heads * tk * 5, saved] {  // tiles of 5 query rows, then one tile
            Attention.maxTileFloats = tile
            let out = Tensor(uninitialized: [tq, heads * d])
            try Attention.compute(q: .init(q.pointer, rowStride: heads * d), k: .init(k.pointer, rowStride: heads * d),
                              v: .init(v.pointer, rowStride: heads * d), queryCount: tq, keyCount: tk, heads: heads, headDim: d,
                              out: out.pointer, outStride: heads * d)
            let expected = Reference.attention(q: q.values, k: k.values, v: v.values, tq: tq, tk: tk, heads: heads, d: d, causal: false)
            XCTAssertLessThan(Reference.maxError(out, Tensor(shape: [tq, heads * d], values: expected)), 1e-5)
        }
    }

    func testCausalCrossShapedAttentionWithStridedOperands() throws {
        // Q, K, V as slices of one fused [tokens, 3C] projection, with a causal mask.
        let (t, heads, d) = (9, 2, 4)
        let c = heads * d
        let qkv = Reference.tensor([t, 3 * c], seed: 10)
        let out = Tensor(uninitialized: [t, c])
        try Attention.compute(q: .init(qkv.pointer, rowStride: 3 * c), k: .init(qkv.pointer + c, rowStride: 3 * c),
                          v: .init(qkv.pointer + 2 * c, rowStride: 3 * c), queryCount: t, keyCount: t, heads: heads, headDim: d,
                          causal: true, out: out.pointer, outStride: c)
        let all = qkv.values
        func slice(_ o: Int) -> [Float] { (0..<t).flatMap { r in all[(r * 3 * c + o)..<(r * 3 * c + o + c)] } }
        let expected = Reference.attention(q: slice(0), k: slice(c), v: slice(2 * c), tq: t, tk: t, heads: heads, d: d, causal: true)
        XCTAssertLessThan(Reference.maxError(out, Tensor(shape: [t, c], values: expected)), 1e-5)
    }
}

private extension Double { var asFloat: Float { Float(self) } }
