import Compute
import StableDiffusion
import XCTest

/// The frequency probe's measures: x0 from epsilon, and the split of energy at a frequency.
final class FrequencyEnergyTests: XCTestCase {
    func testPredictedOriginalInvertsTheNoising() {
        let x0 = (0..<32).map { Float($0) / 10 - 1 }, eps = (0..<32).map { Float(($0 * 7) % 5) - 2 }
        let sigma: Float = 3
        let a = 1 / (1 + sigma * sigma)
        let input = zip(x0, eps).map { a.squareRoot() * $0 + (1 - a).squareRoot() * $1 }
        let back = PredictedOriginal.fromEpsilon(modelInput: Tensor(shape: [1, 2, 4, 4], values: input),
                                                 epsilon: Tensor(shape: [1, 2, 4, 4], values: eps), sigma: sigma).values
        for (u, v) in zip(back, x0) { XCTAssertEqual(u, v, accuracy: 1e-5) }
    }

    func testFlatTensorIsAllLowAndCheckerboardAllHigh() {
        let flat = FrequencyEnergy.measure(Tensor(shape: [1, 1, 8, 8], values: Array(repeating: 2, count: 64)), cutoff: 0.125)
        XCTAssertEqual(flat.low, 4, accuracy: 1e-9)
        XCTAssertEqual(flat.high, 0, accuracy: 1e-9)
        let checker = (0..<64).map { Float(($0 / 8 + $0 % 8) % 2 == 0 ? 1 : -1) }
        let e = FrequencyEnergy.measure(Tensor(shape: [1, 1, 8, 8], values: checker), cutoff: 0.125)
        XCTAssertEqual(e.low, 0, accuracy: 1e-9)
        XCTAssertEqual(e.high, 1, accuracy: 1e-9)
    }

    func testBandsAddUpToTheMeanSquare() {
        let values = (0..<(2 * 16 * 12)).map { Float(sin(Double($0) * 0.37) + 0.2 * cos(Double($0) * 2.1)) }
        let e = FrequencyEnergy.measure(Tensor(shape: [1, 2, 16, 12], values: values), cutoff: 0.15)
        let meanSquare = values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(values.count)
        XCTAssertEqual(e.total, meanSquare, accuracy: 1e-9)
        XCTAssertGreaterThan(e.low, 0)
        XCTAssertGreaterThan(e.high, 0)
    }

    func testOneCycleAcrossTheSideIsLowAndFourCyclesHigh() {
        func wave(_ cycles: Double) -> Tensor {
            Tensor(shape: [1, 1, 16, 16], values: (0..<256).map { Float(cos(2 * Double.pi * cycles * Double($0 % 16) / 16)) })
        }
        XCTAssertEqual(FrequencyEnergy.measure(wave(1), cutoff: 0.125).high, 0, accuracy: 1e-9)
        XCTAssertEqual(FrequencyEnergy.measure(wave(4), cutoff: 0.125).low, 0, accuracy: 1e-9)
    }
}
