import Compute
import XCTest

final class NormalizationTests: XCTestCase {
    func testGroupNormWithSiLUMatchesDefinition() throws {
        let (n, h, w, c, groups) = (2, 3, 5, 8, 4)
        let x = Reference.tensor([n, h, w, c], seed: 1)
        let gamma = Reference.tensor([c], seed: 2), beta = Reference.tensor([c], seed: 3)
        let norm = try GroupNorm(groups: groups, epsilon: 1e-5, gamma: gamma, beta: beta)
        let plain = try norm(x), fused = try norm(x, silu: true)
        let v = x.values, per = c / groups
        for b in 0..<n { for g in 0..<groups {
            var vals = [Double]()
            for p in 0..<(h * w) { for ch in (g * per)..<((g + 1) * per) { vals.append(Double(v[(b * h * w + p) * c + ch])) } }
            let mean = vals.reduce(0, +) / Double(vals.count)
            let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)
            for p in 0..<(h * w) { for ch in (g * per)..<((g + 1) * per) {
                let i = (b * h * w + p) * c + ch
                let y = Float((Double(v[i]) - mean) / (variance + 1e-5).squareRoot()) * gamma.pointer[ch] + beta.pointer[ch]
                XCTAssertEqual(plain.pointer[i], y, accuracy: 1e-5)
                XCTAssertEqual(fused.pointer[i], y / (1 + exp(-y)), accuracy: 1e-5)
            } }
        } }
    }

    func testLayerNormMatchesDefinition() throws {
        let x = Reference.tensor([4, 6], seed: 4), gamma = Reference.tensor([6], seed: 5), beta = Reference.tensor([6], seed: 6)
        let y = try LayerNorm(epsilon: 1e-5, gamma: gamma, beta: beta)(x)
        for r in 0..<4 {
            let row = (0..<6).map { Double(x.pointer[r * 6 + $0]) }
            let mean = row.reduce(0, +) / 6
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
            for i in 0..<6 {
                let e = Float((row[i] - mean) / (variance + 1e-5).squareRoot()) * gamma.pointer[i] + beta.pointer[i]
                XCTAssertEqual(y.pointer[r * 6 + i], e, accuracy: 1e-5)
            }
        }
    }

    func testUpsampleAndConcatLayouts() throws {
        let x = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])  // two pixels, two channels
        let up = try Elementwise.upsampleNearest2x(x)
        XCTAssertEqual(up.shape, [1, 2, 4, 2])
        XCTAssertEqual(up.values, [1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4])
        let cat = try Elementwise.concatChannels(x, Tensor(shape: [1, 1, 2, 1], values: [9, 8]))
        XCTAssertEqual(cat.values, [1, 2, 9, 3, 4, 8])
    }
}
