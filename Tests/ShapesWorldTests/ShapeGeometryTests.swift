import XCTest
@testable import ShapesWorld

final class ShapeGeometryTests: XCTestCase {
    /// Share of the unit box [-0.5, 0.5]^2 inside `shape`, on an n x n grid of cell centres.
    private func area(_ shape: ShapeKind, n: Int = 500) -> Double {
        var inside = 0
        for j in 0..<n {
            for i in 0..<n {
                let x = (Double(i) + 0.5) / Double(n) - 0.5, y = (Double(j) + 0.5) / Double(n) - 0.5
                if ShapeGeometry.contains(shape, x: x, y: y) { inside += 1 }
            }
        }
        return Double(inside) / Double(n * n)
    }

    func testAreasMatchTheGeometryOfTheSpec() {
        XCTAssertEqual(area(.circle), Double.pi / 4, accuracy: 0.003)
        XCTAssertEqual(area(.square), 1, accuracy: 0.003)
        XCTAssertEqual(area(.triangle), 0.5, accuracy: 0.003)
        // Plus sign, arm width one third: 1 - 4 corners of (1/3)^2.
        XCTAssertEqual(area(.cross), 5.0 / 9.0, accuracy: 0.003)
        // Ten triangles between outer radius 0.5 and inner 0.2 (0.4 of the outer), 36 degrees apart.
        XCTAssertEqual(area(.star), 10 * 0.5 * 0.5 * 0.2 * sin(Double.pi / 5), accuracy: 0.003)
    }

    func testTriangleIsIsoscelesWithItsApexUp() {
        XCTAssertTrue(ShapeGeometry.contains(.triangle, x: 0, y: -0.45))
        XCTAssertFalse(ShapeGeometry.contains(.triangle, x: 0.1, y: -0.45))
        XCTAssertTrue(ShapeGeometry.contains(.triangle, x: -0.45, y: 0.45))
        XCTAssertTrue(ShapeGeometry.contains(.triangle, x: 0.45, y: 0.45))
        XCTAssertEqual(ShapeGeometry.centroid(.triangle).y, 1.0 / 6.0, accuracy: 1e-12)
    }

    func testStarHasOnePointUpAndNoneDown() {
        XCTAssertTrue(ShapeGeometry.contains(.star, x: 0, y: -0.48))
        XCTAssertFalse(ShapeGeometry.contains(.star, x: 0, y: 0.3))
        XCTAssertTrue(ShapeGeometry.contains(.star, x: 0, y: 0))
        let top = ShapeGeometry.starVertices[0]
        XCTAssertEqual(top.0, 0, accuracy: 1e-12); XCTAssertEqual(top.1, -0.5, accuracy: 1e-12)
    }

    func testCrossArmsAreOneThirdWide() {
        XCTAssertTrue(ShapeGeometry.contains(.cross, x: 0.45, y: 0.16))
        XCTAssertFalse(ShapeGeometry.contains(.cross, x: 0.45, y: 0.17))
        XCTAssertFalse(ShapeGeometry.contains(.cross, x: 0.4, y: 0.4))
        XCTAssertTrue(ShapeGeometry.contains(.cross, x: 0, y: -0.49))
    }

    func testCircleAndSquareBoundaries() {
        XCTAssertTrue(ShapeGeometry.contains(.circle, x: 0.49, y: 0))
        XCTAssertFalse(ShapeGeometry.contains(.circle, x: 0.4, y: 0.4))
        XCTAssertTrue(ShapeGeometry.contains(.square, x: 0.49, y: -0.49))
        XCTAssertFalse(ShapeGeometry.contains(.square, x: 0.51, y: 0))
    }
}
