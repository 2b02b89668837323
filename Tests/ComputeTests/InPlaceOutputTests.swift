import Compute
import XCTest

/// A convolution's residual and a group norm's input, when the caller gives them up with
/// `consume` and nothing else holds them, become the output (no second buffer of that size),
/// with the same bits as the copying path; when anything else still holds them they are left
/// as they were.
final class InPlaceOutputTests: XCTestCase {
    private let x = Reference.tensor([2, 9, 7, 24], seed: 51)
    private let conv = try! Conv2D(weight: Reference.tensor([16, 24, 3, 3], seed: 52), bias: Reference.tensor([16], seed: 53), padding: 1)
    private let norm = try! GroupNorm(groups: 4, epsilon: 1e-5, gamma: Reference.tensor([24], seed: 55), beta: Reference.tensor([24], seed: 56))

    func testConvolutionSumsIntoAConsumedResidual() throws {
        let residual = Reference.tensor([2, 9, 7, 16], seed: 54)
        let kept = residual.values
        let copied = try conv(x, residual: residual, silu: true)
        XCTAssertEqual(residual.values, kept, "a residual the caller still holds is not written")
        let owned = residual.copy()
        let storage = owned.pointer
        let inPlace = try conv(x, residual: consume owned, silu: true)
        XCTAssertEqual(inPlace.pointer, storage, "the consumed residual's storage is the output")
        XCTAssertEqual(inPlace.values, copied.values, "the same bits either way")
    }

    func testConvolutionCopiesAConsumedResidualThatAViewStillHolds() throws {
        let residual = Reference.tensor([2, 9, 7, 16], seed: 54)
        let view = residual.reshaped([2 * 9 * 7, 16])
        let kept = view.values
        let out = try conv(x, residual: consume residual)
        XCTAssertNotEqual(out.pointer, view.pointer)
        XCTAssertEqual(view.values, kept, "a view of the residual is not written")
    }

    func testGroupNormWritesOverAConsumedInput() throws {
        let fresh = try norm(x, silu: true)
        XCTAssertEqual(x.values, Reference.tensor([2, 9, 7, 24], seed: 51).values, "an input the caller still holds is not written")
        let owned = x.copy()
        let storage = owned.pointer
        let inPlace = try norm(consume owned, silu: true)
        XCTAssertEqual(inPlace.pointer, storage, "the consumed input's storage is the output")
        XCTAssertEqual(inPlace.values, fresh.values, "the same bits either way")
        let plain = try norm(x.copy())
        XCTAssertEqual(plain.values, try norm(x).values, "without SiLU too")
    }
}
