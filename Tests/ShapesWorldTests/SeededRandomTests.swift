import XCTest
@testable import ShapesWorld

final class SeededRandomTests: XCTestCase {
    func testMatchesTheReferenceSplitMix64Sequence() {
        // First outputs of Vigna's splitmix64.c for the state 1234567.
        var rng = SeededRandom(seed: 1234567)
        XCTAssertEqual(rng.next(), 6457827717110365317)
        XCTAssertEqual(rng.next(), 3203168211198807973)
        XCTAssertEqual(rng.next(), 9817491932198370423)
    }

    func testUnitAndBelowStayInRangeAndCoverIt() {
        var rng = SeededRandom(seed: 9)
        var seen = Set<Int>()
        for _ in 0..<10000 {
            let u = rng.unit()
            XCTAssertTrue(u >= 0 && u < 1)
            let k = rng.below(7)
            XCTAssertTrue((0..<7).contains(k))
            seen.insert(k)
        }
        XCTAssertEqual(seen.count, 7)
    }

    func testIndexedStreamsAreReproducibleAndDistinct() {
        var a = SeededRandom(seed: 42, index: 3), b = SeededRandom(seed: 42, index: 3)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
        // Neighbouring indices must not be shifted copies of one another.
        var c = SeededRandom(seed: 42, index: 4)
        let outA = Set((0..<50).map { _ in a.next() }), outC = Set((0..<50).map { _ in c.next() })
        XCTAssertTrue(outA.isDisjoint(with: outC))
    }
}
