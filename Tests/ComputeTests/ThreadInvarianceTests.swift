@testable import Compute
import XCTest

/// Each operation gives the same bits on 1 and 2 threads, at sizes where the work really is
/// shared out (the small-work thresholds are set to 1 here). Layers are made anew for each count:
/// oneDNN primitives are created for the thread count in force.
final class ThreadInvarianceTests: XCTestCase {
    private func assertSameOnOneAndTwoThreads(_ name: String, _ body: () throws -> Tensor, file: StaticString = #filePath, line: UInt = #line) throws {
        let one = try Threads.withEveryOperationParallel(threads: 1) { try body().values }
        let two = try Threads.withEveryOperationParallel(threads: 2) { () throws -> [Float] in
            XCTAssertEqual(Threads.count, 2, file: file, line: line)
            return try body().values
        }
        XCTAssertEqual(one.count, two.count, file: file, line: line)
        XCTAssertTrue(one == two, "\(name): \(zip(one, two).filter { $0 != $1 }.count) of \(one.count) values differ between 1 and 2 threads",
                      file: file, line: line)
    }

    func testConvolutionsGiveTheSameBitsOnOneAndTwoThreads() throws {
        let x = Reference.tensor([2, 24, 20, 64], seed: 1)
        let w3 = Reference.tensor([96, 64, 3, 3], seed: 2), b = Reference.tensor([96], seed: 3)
        try assertSameOnOneAndTwoThreads("conv3x3") { try Conv2D(weight: w3, bias: b, padding: 1)(x) }
        try assertSameOnOneAndTwoThreads("conv3x3 stride 2 + silu") { try Conv2D(weight: w3, bias: b, stride: 2, padding: (0, 0, 1, 1))(x, silu: true) }
        let w1 = Reference.tensor([96, 64, 1, 1], seed: 4)
        try assertSameOnOneAndTwoThreads("conv1x1") { try Conv2D(weight: w1, bias: nil, padding: 0)(x) }
    }

    func testLinearGivesTheSameBitsOnOneAndTwoThreads() throws {
        // Few rows and a long reduction too: the shapes where a GEMM might split the reduction.
        // bf16 (where the CPU has it) tiles whole rows, 256, 128 or 32 at a time by the row count.
        let precisions: [Precision] = EngineISA.hasNativeBFloat16 ? [.fp32, .bf16] : [.fp32]
        for precision in precisions {
            for (rows, k, n) in [(300, 256, 192), (2, 1280, 320), (77, 768, 3072), (600, 320, 640)] {
                let x = Reference.tensor([1, rows, k], seed: UInt64(rows)), w = Reference.tensor([n, k], seed: 5), b = Reference.tensor([n], seed: 6)
                try assertSameOnOneAndTwoThreads("linear \(k)->\(n) x\(rows) \(precision)") {
                    try Linear(weight: w, bias: b, precision: precision)(x, activation: .geluErf)
                }
            }
        }
    }

    func testAttentionGivesTheSameBitsOnOneAndTwoThreads() throws {
        let (tq, tk, heads, d) = (1024, 1024, 2, 40)
        let q = Reference.tensor([tq, heads * d], seed: 7), k = Reference.tensor([tk, heads * d], seed: 8), v = Reference.tensor([tk, heads * d], seed: 9)
        try assertSameOnOneAndTwoThreads("attention \(tq)x\(tk)") {
            let out = Tensor(uninitialized: [tq, heads * d])
            try Attention.compute(q: .init(q.pointer, rowStride: heads * d), k: .init(k.pointer, rowStride: heads * d),
                              v: .init(v.pointer, rowStride: heads * d), queryCount: tq, keyCount: tk, heads: heads, headDim: d,
                              out: out.pointer, outStride: heads * d)
            return out
        }
    }

    func testNormsGiveTheSameBitsOnOneAndTwoThreads() throws {
        let x = Reference.tensor([2, 64, 48, 96], seed: 10)
        let norm = try GroupNorm(groups: 32, epsilon: 1e-5, gamma: Reference.tensor([96], seed: 11), beta: Reference.tensor([96], seed: 12))
        try assertSameOnOneAndTwoThreads("group norm + silu") { try norm(x, silu: true) }
        let layer = try LayerNorm(epsilon: 1e-5, gamma: Reference.tensor([96], seed: 13), beta: Reference.tensor([96], seed: 14))
        try assertSameOnOneAndTwoThreads("layer norm") { try layer(x) }
    }
}
