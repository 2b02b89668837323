import CKernels
import Foundation
@testable import Compute
import XCTest

/// The fused attention kernel (CKernels/flash_attention.c) on each of its code paths (AVX-512,
/// AVX2, portable C) against the fp64 reference and against each other, with shapes that
/// exercise partial query tiles, several key blocks, key tails, head sizes that are not
/// multiples of the vector blocks, causal masks and bf16 rounding; then `Attention.compute` on
/// every path: the same bits on 1 and 2 threads, and close to the oneDNN path.
final class FlashAttentionKernelTests: XCTestCase {
    /// (name, kernel level for `Attention.compute`); levels the CPU lacks fall back to lower ones.
    private let levels: [(name: String, level: Int32)] = [("avx512", 2), ("avx2", 1), ("portable", 0)]

    override func tearDown() {
        EngineISA.applyToKernels()  // back to the level oneDNN's ISA allows
        Attention.useFusedKernel = true
        Attention.allowAMX = true
    }

    private typealias Kernel = (UnsafePointer<Float>?, Int64, UnsafePointer<Float>?, Int64, UnsafePointer<Float>?, Int64,
                                Int64, Int64, Int64, Float, Int64, Int32, UnsafeMutablePointer<Float>?, Int64, UnsafeMutablePointer<Float>?) -> Void
    private let kernels: [(name: String, run: Kernel)] = [
        ("dispatched", sdc_flash_attention_f32), ("avx2", sdc_flash_attention_f32_avx2), ("portable", sdc_flash_attention_f32_portable),
    ]

    /// One head over dense [tokens, d] operands, tile by tile as the engine calls it.
    private func run(_ kernel: Kernel, q: [Float], k: [Float], v: [Float], tq: Int, tk: Int, d: Int, causal: Bool, bf16: Bool) -> [Float] {
        var out = [Float](repeating: .nan, count: tq * d)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: Int(sdc_flash_attention_scratch_floats(Int64(d))) * 4, alignment: 64)
        defer { scratch.deallocate() }
        let tile = Int(SDC_FLASH_ROWS)
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in out.withUnsafeMutableBufferPointer { op in
            for start in stride(from: 0, to: tq, by: tile) {
                kernel(qp.baseAddress! + start * d, Int64(d), kp.baseAddress, Int64(d), vp.baseAddress, Int64(d),
                       Int64(min(tile, tq - start)), Int64(tk), Int64(d), 1 / Float(d).squareRoot(), causal ? Int64(start) : -1,
                       bf16 ? 1 : 0, op.baseAddress! + start * d, Int64(d), scratch.assumingMemoryBound(to: Float.self))
            }
        } } } }
        return out
    }

    private let shapes: [(tq: Int, tk: Int, d: Int, causal: Bool)] = [
        (37, 37, 4, false),    // one partial tile, one partial key block
        (100, 130, 40, false), // SD's head size, partial tiles, two key blocks and a key tail
        (77, 77, 64, true),    // CLIP's causal self-attention
        (50, 77, 13, false),   // cross-attention shape, a head size no vector block divides
        (130, 200, 8, true),   // causal over several key blocks and tiles
    ]

    func testEveryPathMatchesTheFP64Reference() {
        for (tq, tk, d, causal) in shapes {
            let q = Reference.tensor([tq, d], seed: 1).values.map { $0 * 3 }, k = Reference.tensor([tk, d], seed: 2).values.map { $0 * 3 }
            let v = Reference.tensor([tk, d], seed: 3).values
            let expected = Reference.attention(q: q, k: k, v: v, tq: tq, tk: tk, heads: 1, d: d, causal: causal)
            var results: [[Float]] = []
            for kernel in kernels {
                let out = run(kernel.run, q: q, k: k, v: v, tq: tq, tk: tk, d: d, causal: causal, bf16: false)
                let error = zip(out, expected).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(error, 2e-6, "\(kernel.name) \(tq)x\(tk) d\(d) causal \(causal)")
                results.append(out)
            }
            // The paths round differently but agree closely.
            for r in results.dropFirst() { XCTAssertLessThan(zip(r, results[0]).map { abs($0 - $1) }.max()!, 2e-6) }
        }
    }

    func testBF16RoundsQueriesAndProbabilitiesOnEveryPath() {
        let (tq, tk, d) = (60, 90, 40)
        let q = Reference.tensor([tq, d], seed: 4).values.map { $0 * 3 }, k = Reference.tensor([tk, d], seed: 5).values.map { $0 * 3 }
        let v = Reference.tensor([tk, d], seed: 6).values
        let expected = Reference.attention(q: q, k: k, v: v, tq: tq, tk: tk, heads: 1, d: d, causal: false)
        for kernel in kernels {
            let out = run(kernel.run, q: q, k: k, v: v, tq: tq, tk: tk, d: d, causal: false, bf16: true)
            let error = zip(out, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(error, 1e-2, kernel.name)
            XCTAssertGreaterThan(error, 1e-5, "\(kernel.name): bf16 rounding leaves a trace")
        }
    }

    func testMaskedKeysGetNoWeight() {
        // Causal: query i sees keys 0...i only, so a huge value in a later key must not leak.
        let (t, d) = (70, 8)
        let q = Reference.tensor([t, d], seed: 7).values, k = Reference.tensor([t, d], seed: 8).values
        var v = Reference.tensor([t, d], seed: 9).values
        for e in 0..<d { v[(t - 1) * d + e] = 1e30 }
        for kernel in kernels {
            let out = run(kernel.run, q: q, k: k, v: v, tq: t, tk: t, d: d, causal: true, bf16: false)
            XCTAssertTrue(out[0..<((t - 1) * d)].allSatisfy { abs($0) < 10 }, kernel.name)
        }
    }

    /// Q, K, V as slices of one fused projection, several heads: the engine's entry point.
    private func attention(tq: Int, tk: Int, heads: Int, d: Int, causal: Bool, precision: Precision) throws -> Tensor {
        let c = heads * d
        let q = Reference.tensor([tq, c], seed: 11), kv = Reference.tensor([tk, 2 * c], seed: 12)
        let out = Tensor(uninitialized: [tq, c])
        try Attention.compute(q: .init(q.pointer, rowStride: c), k: .init(kv.pointer, rowStride: 2 * c), v: .init(kv.pointer + c, rowStride: 2 * c),
                              queryCount: tq, keyCount: tk, heads: heads, headDim: d, causal: causal, precision: precision,
                              out: out.pointer, outStride: c)
        return out
    }

    func testEveryPathGivesTheSameBitsOnOneAndTwoThreads() throws {
        for (name, level) in levels {
            for precision in [Precision.fp32, .bf16] {
                sdc_kernels_set_max_level(level)
                Attention.allowAMX = false  // the AMX path has its own test
                let one = try Threads.withEveryOperationParallel(threads: 1) { try attention(tq: 300, tk: 300, heads: 3, d: 40, causal: false, precision: precision).values }
                let two = try Threads.withEveryOperationParallel(threads: 2) { try attention(tq: 300, tk: 300, heads: 3, d: 40, causal: false, precision: precision).values }
                XCTAssertTrue(one == two, "\(name) \(precision): \(zip(one, two).filter { $0 != $1 }.count) values differ between 1 and 2 threads")
            }
        }
    }

    func testAMXPathStaysWithinBF16OfTheReferenceAndGivesTheSameBitsOnOneAndTwoThreads() throws {
        guard Attention.usesAMX else {
            // Off only for a reason: the CPU has no AMX, or oneDNN's ISA is capped below it.
            let flags = ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
                .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
            let capped = ProcessInfo.processInfo.environment["ONEDNN_MAX_CPU_ISA"] != nil
            XCTAssertTrue(!flags.contains("amx_bf16") || capped, "this CPU has AMX and oneDNN is not capped, yet the AMX path is off")
            return
        }
        for (tq, tk, heads, d, causal) in [(150, 150, 2, 40, false), (100, 77, 2, 80, false), (77, 77, 2, 64, true), (70, 45, 1, 13, true)] {
            let c = heads * d
            let q = Reference.tensor([tq, c], seed: 11), kv = Reference.tensor([tk, 2 * c], seed: 12)
            let kvs = kv.values
            var keys: [Float] = [], values: [Float] = []
            for j in 0..<tk {
                let row = j * 2 * c
                keys += kvs[row..<(row + c)]
                values += kvs[(row + c)..<(row + 2 * c)]
            }
            let expected = Reference.attention(q: q.values, k: keys, v: values, tq: tq, tk: tk, heads: heads, d: d, causal: causal)
            let amx = try attention(tq: tq, tk: tk, heads: heads, d: d, causal: causal, precision: .bf16)
            let error = Reference.maxError(amx, Tensor(shape: [tq, c], values: expected))
            XCTAssertLessThan(error, 1e-2, "\(tq)x\(tk) h\(heads)x\(d)")
            XCTAssertGreaterThan(error, 1e-5, "bf16 rounding leaves a trace")
            Attention.allowAMX = false
            let avx512 = try attention(tq: tq, tk: tk, heads: heads, d: d, causal: causal, precision: .bf16)
            Attention.allowAMX = true
            XCTAssertLessThan(Reference.maxError(amx, avx512), 1e-2, "AMX and AVX-512 bf16 paths agree")
            let one = try Threads.withEveryOperationParallel(threads: 1) { try attention(tq: tq, tk: tk, heads: heads, d: d, causal: causal, precision: .bf16).values }
            let two = try Threads.withEveryOperationParallel(threads: 2) { try attention(tq: tq, tk: tk, heads: heads, d: d, causal: causal, precision: .bf16).values }
            XCTAssertTrue(one == two, "\(zip(one, two).filter { $0 != $1 }.count) values differ between 1 and 2 threads")
        }
    }

    func testFusedKernelAgreesWithTheOneDNNPath() throws {
        for (tq, tk, heads, d, causal) in [(200, 200, 2, 40, false), (150, 77, 3, 80, false), (77, 77, 2, 64, true)] {
            Attention.useFusedKernel = false
            let reference = try attention(tq: tq, tk: tk, heads: heads, d: d, causal: causal, precision: .fp32)
            Attention.useFusedKernel = true
            for (name, level) in levels {
                sdc_kernels_set_max_level(level)
                let fused = try attention(tq: tq, tk: tk, heads: heads, d: d, causal: causal, precision: .fp32)
                XCTAssertLessThan(Reference.maxError(fused, reference), 2e-6, "\(name) \(tq)x\(tk) h\(heads)x\(d)")
            }
        }
    }
}
