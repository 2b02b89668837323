import Compute
import StableDiffusion
import XCTest

final class RandomWeightsTests: XCTestCase {
    func testSameSeedGivesSameWeightsAndScaleFollowsFanIn() throws {
        let a = RandomWeights(seed: 3), b = RandomWeights(seed: 3)
        let wa = try a.tensor("conv.weight", shape: [8, 16, 3, 3]), wb = try b.tensor("conv.weight", shape: [8, 16, 3, 3])
        XCTAssertEqual(wa.values, wb.values)
        XCTAssertLessThanOrEqual(wa.maxAbs, 1 / Float(16 * 9).squareRoot())
        XCTAssertGreaterThan(wa.maxAbs, 0.9 / Float(16 * 9).squareRoot())
        XCTAssertEqual(try a.tensor("norm.weight", shape: [8]).values, Array(repeating: 1, count: 8))
        XCTAssertEqual(a.parameterCount, 8 * 16 * 9 + 8)
    }
}
