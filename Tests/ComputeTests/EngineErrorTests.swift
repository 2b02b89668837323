import CDNNL
@testable import Compute
import XCTest

/// What the engine does with a oneDNN failure or a shape it cannot take: a thrown error that
/// names the call or both shapes, and an engine that keeps working, never a trap (release builds
/// are -Ounchecked, where a precondition is not even checked).
final class EngineErrorTests: XCTestCase {
    private func assertShapeError<T>(_ body: @autoclosure () throws -> T, _ words: [String],
                                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue(error is ShapeError, "\(type(of: error)): \(error)", file: file, line: line)
            for w in words { XCTAssertTrue("\(error)".contains(w), "'\(w)' missing from: \(error)", file: file, line: line) }
        }
    }

    // MARK: oneDNN failures

    func testAPrimitiveOneDNNRefusesIsAThrownErrorNamingTheCall() throws {
        // A matmul whose operands do not chain ([2, 3] x [4, 5]): oneDNN says invalid arguments.
        let src = try MemoryDesc.tagged([2, 3], dnnl_ab), wts = try MemoryDesc.tagged([4, 5], dnnl_ab)
        let dst = try MemoryDesc.tagged([2, 5], dnnl_ab)
        XCTAssertThrowsError(try Primitive.make(name: "mismatched matmul") { pd, engine, attr in
            dnnl_matmul_primitive_desc_create(pd, engine, src.handle, wts.handle, nil, dst.handle, attr)
        }) { error in
            guard let e = error as? DNNLError else { return XCTFail("\(type(of: error)): \(error)") }
            XCTAssertEqual(e.status, dnnl_invalid_arguments)
            XCTAssertTrue(e.call.contains("primitive_desc_create (mismatched matmul)"), e.call)
            XCTAssertTrue(e.description.contains("invalid arguments"), e.description)
        }
        // The engine is unharmed: the same kind of primitive with chaining operands runs.
        let good = try MemoryDesc.tagged([3, 5], dnnl_ab)
        let prim = try Primitive.make(name: "matmul") { pd, engine, attr in
            dnnl_matmul_primitive_desc_create(pd, engine, src.handle, good.handle, nil, dst.handle, attr)
        }
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), b = Tensor(zeros: [3, 5]), c = Tensor(zeros: [2, 5])
        for i in 0..<3 { b.pointer[i * 5 + i] = 1 }  // the first three columns of the identity
        try prim.execute([(DNNLArg.src, src, UnsafeMutableRawPointer(a.pointer)), (DNNLArg.weights, good, UnsafeMutableRawPointer(b.pointer)),
                          (DNNLArg.dst, dst, UnsafeMutableRawPointer(c.pointer))])
        XCTAssertEqual(c.values, [1, 2, 3, 0, 0, 4, 5, 6, 0, 0])
    }

    func testADescriptorOneDNNRefusesIsAThrownError() {
        // nhwc needs four dimensions.
        XCTAssertThrowsError(try MemoryDesc.tagged([2, 3], dnnl_nhwc)) { error in
            guard let e = error as? DNNLError else { return XCTFail("\(type(of: error)): \(error)") }
            XCTAssertTrue(e.call.contains("memory_desc_create_with_tag [2, 3]"), e.call)
        }
        XCTAssertThrowsError(try MemoryDesc.tagged(Array(repeating: 1, count: 13), dnnl_format_tag_any)) { error in
            XCTAssertTrue("\(error)".contains("more than 12 dimensions"), "\(error)")
        }
        XCTAssertThrowsError(try MemoryDesc.copy(of: nil, "weights of a test")) { error in
            XCTAssertTrue("\(error)".contains("weights of a test"), "\(error)")
        }
    }

    func testAnErrorInAParallelLoopIsRethrownAfterIt() {
        struct Injected: Error {}
        let saved = Threads.minimumWorkPerThread
        defer { Threads.minimumWorkPerThread = saved }
        Threads.minimumWorkPerThread = 1
        let failure = FirstError()
        var visited = [Int](repeating: 0, count: 64)
        visited.withUnsafeMutableBufferPointer { v in
            let p = v.baseAddress!
            Threads.parallelFor(64) { start, end in
                failure.capture {
                    for i in start..<end where !failure.isSet {
                        p[i] = 1
                        if i == 5 { throw Injected() }
                    }
                }
            }
        }
        XCTAssertThrowsError(try failure.rethrow()) { XCTAssertTrue($0 is Injected) }
        XCTAssertNoThrow(try FirstError().rethrow(), "nothing thrown, nothing rethrown")
    }

    // MARK: shapes at the layers' entry points

    func testConvolutionRefusesShapesItCannotTake() throws {
        let conv = try Conv2D(weight: Reference.tensor([8, 4, 3, 3], seed: 1), bias: Reference.tensor([8], seed: 2), padding: 1)
        assertShapeError(try conv(Tensor(zeros: [1, 6, 6, 3])), ["conv 4->8 k3", "[N, H, W, 4]", "[1, 6, 6, 3]"])
        assertShapeError(try conv(Tensor(zeros: [6, 6, 4])), ["[N, H, W, 4]", "[6, 6, 4]"])
        assertShapeError(try conv(Tensor(zeros: [1, 6, 6, 4]), residual: Tensor(zeros: [1, 6, 6, 4])),
                         ["residual", "[1, 6, 6, 8]", "[1, 6, 6, 4]"])
        assertShapeError(try conv(Tensor(zeros: [1, 6, 6, 4]), biasOverride: Tensor(zeros: [7])), ["bias override", "[8]", "[7]"])
        let unpadded = try Conv2D(weight: Reference.tensor([8, 4, 3, 3], seed: 1), bias: nil, padding: 0)
        assertShapeError(try unpadded(Tensor(zeros: [1, 2, 5, 4])), ["at least 3x3", "[1, 2, 5, 4]"])
        assertShapeError(try unpadded(Tensor(zeros: [1, 5, 5, 4]), biasOverride: Tensor(zeros: [8])), ["a layer with bias"])
        assertShapeError(try Conv2D(weight: Tensor(zeros: [8, 4, 3]), bias: nil, padding: 1), ["conv weight", "[O, I, k, k]", "[8, 4, 3]"])
        assertShapeError(try Conv2D(weight: Tensor(zeros: [8, 4, 3, 3]), bias: Tensor(zeros: [4]), padding: 1), ["conv bias", "[8]", "[4]"])
        // And the layer still works after refusing.
        XCTAssertEqual(try conv(Tensor(zeros: [1, 6, 6, 4])).shape, [1, 6, 6, 8])
    }

    func testLinearRefusesShapesItCannotTake() throws {
        let layer = try Linear(weight: Reference.tensor([6, 5], seed: 3), bias: nil)
        assertShapeError(try layer(Tensor(zeros: [3, 4])), ["linear 5->6", "[..., 5]", "[3, 4]"])
        assertShapeError(try layer(Tensor(zeros: [3, 5]), residual: Tensor(zeros: [3, 5])), ["residual", "[3, 6]", "[3, 5]"])
        assertShapeError(try layer(Tensor(zeros: [0, 5])), ["[..., 5]", "[0, 5]"])
        let out = Tensor(zeros: [1, 6])
        assertShapeError(try layer.apply(Tensor(zeros: [1, 5]).pointer, rows: 0, into: out.pointer), ["at least one row"])
        assertShapeError(try Linear(weight: Tensor(zeros: [6]), bias: nil), ["linear weight", "[6]"])
        assertShapeError(try Linear(weight: Tensor(zeros: [6, 5]), bias: Tensor(zeros: [5])), ["linear bias", "[6]", "[5]"])
        XCTAssertEqual(try layer(Tensor(zeros: [3, 5])).shape, [3, 6])
    }

    func testNormalisationsRefuseShapesTheyCannotTake() throws {
        let norm = try GroupNorm(groups: 2, epsilon: 1e-5, gamma: Tensor(zeros: [8]), beta: Tensor(zeros: [8]))
        assertShapeError(try norm(Tensor(zeros: [1, 4, 4, 6])), ["group norm over 8 channels", "[N, ..., 8]", "[1, 4, 4, 6]"])
        assertShapeError(try norm(Tensor(zeros: [8])), ["[N, ..., 8]", "[8]"])
        assertShapeError(try GroupNorm(groups: 3, epsilon: 1e-5, gamma: Tensor(zeros: [8]), beta: Tensor(zeros: [8])), ["3 groups"])
        assertShapeError(try GroupNorm(groups: 2, epsilon: 1e-5, gamma: Tensor(zeros: [8]), beta: Tensor(zeros: [6])), ["[8, 6]"])
        let layerNorm = try LayerNorm(epsilon: 1e-5, gamma: Tensor(zeros: [8]), beta: Tensor(zeros: [8]))
        assertShapeError(try layerNorm(Tensor(zeros: [3, 7])), ["layer norm over 8", "[..., 8]", "[3, 7]"])
        assertShapeError(try LayerNorm(epsilon: 1e-5, gamma: Tensor(zeros: [8]), beta: Tensor(zeros: [7])), ["[8, 7]"])
    }

    func testAttentionRefusesCountsAndStridesItCannotTake() throws {
        let q = Tensor(zeros: [4, 8]), out = Tensor(zeros: [4, 8])
        func attend(queries: Int = 4, keys: Int = 4, heads: Int = 2, headDim: Int = 4, stride: Int = 8) throws {
            try Attention.compute(q: .init(q.pointer, rowStride: stride), k: .init(q.pointer, rowStride: stride),
                                  v: .init(q.pointer, rowStride: stride), queryCount: queries, keyCount: keys,
                                  heads: heads, headDim: headDim, out: out.pointer, outStride: 8)
        }
        assertShapeError(try attend(keys: 0), ["attention", "[4, 0, 2, 4]"])
        assertShapeError(try attend(queries: 0), ["[0, 4, 2, 4]"])
        assertShapeError(try attend(stride: 6), ["2 heads of 4", "at least 8", "[6, 6, 6, 8]"])
        XCTAssertNoThrow(try attend())
    }

    func testTwoTensorOperationsRefuseMismatchedShapes() {
        assertShapeError(try Elementwise.add(Tensor(zeros: [2, 3]), Tensor(zeros: [3, 2])), ["add", "[2, 3]", "[3, 2]"])
        assertShapeError(try Elementwise.multiply(Tensor(zeros: [2, 3]), Tensor(zeros: [6])), ["multiply", "[2, 3]", "[6]"])
        assertShapeError(try Elementwise.concatChannels(Tensor(zeros: [1, 2, 2, 3]), Tensor(zeros: [1, 2, 3, 3])),
                         ["channel concatenation", "[1, 2, 2, 3]", "[1, 2, 3, 3]"])
        assertShapeError(try Elementwise.addPerSampleChannel(Tensor(zeros: [2, 4, 3]), Tensor(zeros: [3])), ["[2, 3] values", "[3]"])
        assertShapeError(try Tensor.concatenateBatch([Tensor(zeros: [1, 77, 8]), Tensor(zeros: [1, 5, 8])]),
                         ["batch concatenation", "[1, 77, 8]", "[1, 5, 8]"])
        assertShapeError(try Tensor.concatenateBatch([]), ["at least one tensor"])
        assertShapeError(try Tensor(zeros: [2, 3]).nchwToNHWC(), ["[N, C, H, W]", "[2, 3]"])
        assertShapeError(try Elementwise.upsampleNearest2x(Tensor(zeros: [2, 3])), ["[N, H, W, C]", "[2, 3]"])
    }
}
