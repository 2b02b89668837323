@testable import Compute
import XCTest

/// Each operation gives the same bits on 1 and 2 threads, at sizes where the work really is
/// shared out (the small-work thresholds are set to 1 here). Layers are made anew for each count:
/// oneDNN primitives are created for the thread count in force.
final class ThreadInvarianceTests: XCTestCase {
    private func assertSameOnOneAndTwoThreads(_ name: String, _ body: () -> Tensor, file: StaticString = #filePath, line: UInt = #line) {
        let one = Threads.withEveryOperationParallel(threads: 1) { body().values }
        let two = Threads.withEveryOperationParallel(threads: 2) { () -> [Float] in
            XCTAssertEqual(Threads.count, 2, file: file, line: line)
            return body().values
        }
        XCTAssertEqual(one.count, two.count, file: file, line: line)
        XCTAssertTrue(one == two, "\(name): \(zip(one, two).filter { $0 != $1 }.count) of \(one.count) values differ between 1 and 2 threads",
                      file: file, line: line)
    }

    func testConvolutionsGiveTheSameBitsOnOneAndTwoThreads() {
        let x = Reference.tensor([2, 24, 20, 64], seed: 1)
        let w3 = Reference.tensor([96, 64, 3, 3], seed: 2), b = Reference.tensor([96], seed: 3)
        assertSameOnOneAndTwoThreads("conv3x3") { Conv2D(weight: w3, bias: b, padding: 1)(x) }
        assertSameOnOneAndTwoThreads("conv3x3 stride 2 + silu") { Conv2D(weight: w3, bias: b, stride: 2, padding: (0, 0, 1, 1))(x, silu: true) }
        let w1 = Reference.tensor([96, 64, 1, 1], seed: 4)
        assertSameOnOneAndTwoThreads("conv1x1") { Conv2D(weight: w1, bias: nil, padding: 0)(x) }
    }

    func testLinearGivesTheSameBitsOnOneAndTwoThreads() {
        // Few rows and a long reduction too: the shapes where a GEMM might split the reduction.
        for (rows, k, n) in [(300, 256, 192), (2, 1280, 320), (77, 768, 3072)] {
            let x = Reference.tensor([1, rows, k], seed: UInt64(rows)), w = Reference.tensor([n, k], seed: 5), b = Reference.tensor([n], seed: 6)
            assertSameOnOneAndTwoThreads("linear \(k)->\(n) x\(rows)") { Linear(weight: w, bias: b)(x, activation: .geluErf) }
        }
    }

    func testAttentionGivesTheSameBitsOnOneAndTwoThreads() {
        let (tq, tk, heads, d) = (1024, 1024, 2, 40)
        let q = Reference.tensor([tq, heads * d], seed: 7), k = Reference.tensor([tk, heads * d], seed: 8), v = Reference.tensor([tk, heads * d], seed: 9)
        assertSameOnOneAndTwoThreads("attention \(tq)x\(tk)") {
            let out = Tensor(uninitialized: [tq, heads * d])
            Attention.compute(q: .init(q.pointer, rowStride: heads * d), k: .init(k.pointer, rowStride: heads * d),
                              v: .init(v.pointer, rowStride: heads * d), queryCount: tq, keyCount: tk, heads: heads, headDim: d,
                              out: out.pointer, outStride: heads * d)
            return out
        }
    }

    func testNormsGiveTheSameBitsOnOneAndTwoThreads() {
        let x = Reference.tensor([2, 64, 48, 96], seed: 10)
        let norm = GroupNorm(groups: 32, epsilon: 1e-5, gamma: Reference.tensor([96], seed: 11), beta: Reference.tensor([96], seed: 12))
        assertSameOnOneAndTwoThreads("group norm + silu") { norm(x, silu: true) }
        let layer = LayerNorm(epsilon: 1e-5, gamma: Reference.tensor([96], seed: 13), beta: Reference.tensor([96], seed: 14))
        assertSameOnOneAndTwoThreads("layer norm") { layer(x) }
    }
}
