@testable import Compute
import CDNNL
import XCTest

/// Primitives that the engine's threads run side by side (`Primitive.executeConcurrently`, each
/// thread with its own scratchpad of the size the primitive reports) must stay inside that
/// scratchpad when a parallel region runs all of a primitive's work on one thread.
///
/// oneDNN fixes a primitive's thread count when it is made. 3.2's `gemm:jit:bf16` matmul (picked
/// for bf16 tiles whose output rows are strided, with a post-op, so that it accumulates in the
/// scratchpad) made while 2 threads were in force booked two accumulators of 38 rows each for a
/// 77-row tile, and inside a parallel region wrote all 77 rows into the first (`execute_ref`'s
/// `parallel` runs its one share on one thread): the heap corruption `bench text-encoder
/// --precision bf16` aborted with on 2 threads. Such primitives are now made for one thread.
final class ConcurrentScratchpadTests: XCTestCase {
    /// Bytes after the reported scratchpad that must stay as they were.
    private let guardBytes = 1 << 16
    private let guardPattern: UInt8 = 0xA5

    /// Makes the matmul `Linear` makes for one tile (`rows` x `k` times `k` x `n`, fp32 bias and
    /// output, the output's rows `outputStride` floats apart as in a layer of that many outputs,
    /// `post` fused, made for concurrent execution) while `Threads.count` threads are in force,
    /// then runs it on 2 threads at once, each with its own scratchpad and output. Everything
    /// around what the tile may write is filled with a pattern first: the bytes after the
    /// reported scratchpad, and in the output the other columns, the rows below the tile and the
    /// bytes after it. Returns how many of those bytes changed.
    private func bytesWrittenOutside(rows: Int, k: Int, n: Int, outputStride: Int, post: PostOps,
                                     type: dnnl_data_type_t) throws -> (scratchpad: Int, output: Int) {
        let src = try MemoryDesc.tagged([rows, k], dnnl_ab, type)
        let anyWeights = try MemoryDesc.tagged([k, n], dnnl_format_tag_any, type)
        let dst = try MemoryDesc.strided([rows, n], strides: [outputStride, 1])
        let bias = try MemoryDesc.tagged([1, n], dnnl_ab)
        let primitive = try Primitive.make(postOps: post, forOneThread: true, name: "test matmul \(rows)x\(k)x\(n)") { pd, engine, attr in
            dnnl_matmul_primitive_desc_create(pd, engine, src.handle, anyWeights.handle, bias.handle, dst.handle, attr)
        }
        let weights = try primitive.queryMD(dnnl_query_weights_md)
        let input = try AlignedBuffer(bytes: src.size), packed = try AlignedBuffer(bytes: weights.size)
        let biasValues = try AlignedBuffer(bytes: bias.size)
        for buffer in [input, packed, biasValues] { memset(buffer.raw, 0, buffer.bytes) }
        let threads = 2, reported = primitive.scratchpadBytes
        let tileBytes = ((rows - 1) * outputStride + n) * 4
        let scratchpads = try (0..<threads).map { _ in try AlignedBuffer(bytes: reported + guardBytes) }
        let outputs = try (0..<threads).map { _ in try AlignedBuffer(bytes: tileBytes + guardBytes) }
        for buffer in scratchpads + outputs { memset(buffer.raw, Int32(guardPattern), buffer.bytes) }
        let failure = FirstError()
        Threads.parallelFor(threads, itemCost: Threads.minimumWorkPerThread) { first, end in
            for t in first..<end {
                failure.capture {
                    try primitive.executeConcurrently([(DNNLArg.src, src, input.raw), (DNNLArg.weights, weights, packed.raw),
                                                      (DNNLArg.bias, bias, biasValues.raw), (DNNLArg.dst, dst, outputs[t].raw)],
                                                     scratchpad: scratchpads[t].raw)
                }
            }
        }
        try failure.rethrow()
        let changed = { (bytes: UnsafeRawBufferPointer) in bytes.filter { $0 != self.guardPattern }.count }
        let scratchpad = scratchpads.reduce(0) { $0 + changed(UnsafeRawBufferPointer(start: $1.raw + reported, count: guardBytes)) }
        let output = outputs.reduce(0) { total, buffer in
            var outside = changed(UnsafeRawBufferPointer(start: buffer.raw + tileBytes, count: guardBytes))
            for r in 0..<(rows - 1) {
                outside += changed(UnsafeRawBufferPointer(start: buffer.raw + (r * outputStride + n) * 4, count: (outputStride - n) * 4))
            }
            return total + outside
        }
        return (scratchpad, output)
    }

    func testConcurrentMatmulsWriteOnlyTheirOutputAndReportedScratchpadOnTwoThreads() throws {
        var types = [(dnnl_f32, "fp32")]
        if EngineISA.hasNativeBFloat16 { types.append((dnnl_bf16, "bf16")) }
        // Linear's tiles: CLIP's 77 rows into the fused q/k/v projection's 2304 outputs (where
        // 3.2 picks `gemm:jit:bf16`, with an accumulator in the scratchpad), odd and single rows,
        // full 256-row tiles, dense and strided outputs; and an attention matmul's shape.
        let shapes = [(77, 768, 128, 2304), (77, 768, 128, 128), (1, 768, 128, 2304), (5, 320, 128, 960),
                      (255, 1280, 128, 3840), (256, 320, 128, 1280), (48, 40, 4096, 4096)]
        let posts: [(PostOps, String)] = [(PostOps(), "no post-op"), (PostOps(ops: [.eltwise(dnnl_eltwise_swish, 1.702)]), "quick GELU"),
                                          (PostOps(ops: [.sum]), "residual sum")]
        try Threads.withEveryOperationParallel(threads: 2) {
            for (type, typeName) in types {
                for (rows, k, n, stride) in shapes {
                    for (post, postName) in posts {
                        let written = try bytesWrittenOutside(rows: rows, k: k, n: n, outputStride: stride, post: post, type: type)
                        let what = "\(typeName) matmul \(rows)x\(k)x\(n), output stride \(stride), \(postName)"
                        XCTAssertEqual(written.scratchpad, 0, "\(what): bytes written past the reported scratchpad")
                        XCTAssertEqual(written.output, 0, "\(what): bytes written outside the output tile")
                    }
                }
            }
        }
    }

    /// Where the abort was seen: CLIP's attention output projection (768 -> 768 with the residual
    /// summed in, so the tiles accumulate in the scratchpad) in bf16 over 77 tokens, every tile
    /// shared out among 2 threads, gives the bits of 1 thread and the bf16-rounded reference.
    func testBF16LinearWithResidualOver77RowsOnTwoThreadsMatchesOneThread() throws {
        guard EngineISA.hasNativeBFloat16 else {
            XCTAssertThrowsError(try Precision.bf16.checkSupported(), "bf16 is refused where it is not native")
            return
        }
        let x = Reference.tensor([2, 77, 768], seed: 41), w = Reference.tensor([768, 768], seed: 42), b = Reference.tensor([768], seed: 43)
        let r = Reference.tensor([2, 77, 768], seed: 44)
        let one = try Threads.withEveryOperationParallel(threads: 1) { try Linear(weight: w, bias: b, precision: .bf16)(x, residual: r) }
        for attempt in 0..<3 {
            let two = try Threads.withEveryOperationParallel(threads: 2) { try Linear(weight: w, bias: b, precision: .bf16)(x, residual: r) }
            XCTAssertTrue(one.values == two.values, "attempt \(attempt): 1 and 2 threads differ")
        }
        let rounded = { (t: Tensor) in Tensor(shape: t.shape, values: t.values.map { BFloat16.float(BFloat16.bits($0)) }) }
        let expected = try Elementwise.add(Reference.linear(rounded(x), rounded(w), b), r)
        XCTAssertLessThan(Reference.maxError(one, expected), 1e-3)
    }
}
