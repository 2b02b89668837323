import CKernels
@testable import Compute
import XCTest

/// The hand-written softmax (CKernels/softmax.c) against a fp64 reference, on row lengths that
/// exercise the vector tail, with masked keys, and with bfloat16 output; both the dispatched
/// kernel (AVX-512 or AVX2 where the CPU has them), the AVX2 one (on any CPU with AVX2) and the
/// portable C one that other CPUs run.
final class SoftmaxKernelTests: XCTestCase {
    private typealias Kernel = (UnsafeMutablePointer<Float>?, Int64, Int64, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<UInt16>?) -> Void
    private let kernels: [(name: String, run: Kernel)] = [("dispatched", sdc_softmax_rows), ("avx2", sdc_softmax_rows_avx2), ("portable", sdc_softmax_rows_portable)]

    private func reference(_ row: [Float]) -> [Double] {
        let m = Double(row.max()!)
        let e = row.map { $0 == -.infinity ? 0 : exp(Double($0) - m) }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    func testRowsMatchTheFP64ReferenceAndMaskedKeysGetZero() {
        for kernel in kernels {
            for length in [1, 7, 16, 77, 100, 4096] { rowsMatchReference(kernel, length: length) }
        }
    }

    private func rowsMatchReference(_ kernel: (name: String, run: Kernel), length: Int) {
        let rows = 3
        var scores = Reference.tensor([rows, length], seed: UInt64(length)).values.map { $0 * 12 }
        if length > 2 { scores[1] = -.infinity; scores[length + length - 1] = -.infinity }
        let expected = (0..<rows).map { reference(Array(scores[$0 * length..<($0 + 1) * length])) }
        var out = scores
        out.withUnsafeMutableBufferPointer { kernel.run($0.baseAddress, Int64(rows), Int64(length), nil, nil) }
        for r in 0..<rows {
            for j in 0..<length {
                XCTAssertEqual(Double(out[r * length + j]), expected[r][j], accuracy: 1e-6 * max(1, expected[r][j]),
                               "\(kernel.name): length \(length) row \(r) key \(j)")
            }
            XCTAssertEqual(out[r * length..<(r + 1) * length].reduce(0, +), 1, accuracy: 1e-5)
        }
        if length > 2 { XCTAssertEqual(out[1], 0); XCTAssertEqual(out[2 * length - 1], 0) }
    }

    func testBF16OutputIsTheRoundedProbabilities() {
        for kernel in kernels {
            for length in [13, 64, 333] { bf16IsRounded(kernel, length: length) }
        }
    }

    private func bf16IsRounded(_ kernel: (name: String, run: Kernel), length: Int) {
        let scores = Reference.tensor([2, length], seed: 99).values.map { $0 * 5 }
        var f32 = scores, work = scores
        var bf16 = [UInt16](repeating: 0, count: scores.count)
        f32.withUnsafeMutableBufferPointer { kernel.run($0.baseAddress, 2, Int64(length), nil, nil) }
        work.withUnsafeMutableBufferPointer { w in
            bf16.withUnsafeMutableBufferPointer { kernel.run(w.baseAddress, 2, Int64(length), nil, $0.baseAddress) }
        }
        XCTAssertEqual(bf16, f32.map(BFloat16.bits), "\(kernel.name): length \(length)")
    }
}
