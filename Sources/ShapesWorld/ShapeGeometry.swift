import Foundation

/// The outline of each shape in unit coordinates: the object's nominal bounding box is
/// [-0.5, 0.5] x [-0.5, 0.5], y pointing down. Shared by the rasteriser and the judge's templates.
public enum ShapeGeometry {
    /// Whether the point (x, y) lies inside `shape`.
    public static func contains(_ shape: ShapeKind, x: Double, y: Double) -> Bool {
        switch shape {
        case .circle:
            return x * x + y * y <= 0.25
        case .square:
            return abs(x) <= 0.5 && abs(y) <= 0.5
        case .triangle:
            // Apex at (0, -0.5), base from (-0.5, 0.5) to (0.5, 0.5).
            return y <= 0.5 && y >= -0.5 && abs(x) <= (y + 0.5) / 2
        case .star:
            return insidePolygon(starVertices, x: x, y: y)
        case .cross:
            let arm = 1.0 / 6.0  // half of the arm width, which is one third of the size
            return (abs(x) <= arm && abs(y) <= 0.5) || (abs(y) <= arm && abs(x) <= 0.5)
        }
    }

    /// Where the shape's centroid lies in unit coordinates. The generator puts the centroid,
    /// not the box centre, at the object's position, because the judge reads position from the
    /// mask's centroid (a large triangle's centroid sits 0.09 of the side below its box centre).
    public static func centroid(_ shape: ShapeKind) -> (x: Double, y: Double) {
        shape == .triangle ? (0, 1.0 / 6.0) : (0, 0)
    }

    /// Five points, one straight up, outer radius 0.5, inner radius 0.4 of the outer.
    public static let starVertices: [(Double, Double)] = (0..<10).map { k in
        let radius = k % 2 == 0 ? 0.5 : 0.2
        let angle = -Double.pi / 2 + Double(k) * Double.pi / 5
        return (radius * cos(angle), radius * sin(angle))
    }

    /// The tight bounding box of `shape` in unit coordinates (minX, minY, maxX, maxY); the
    /// star's is smaller than the nominal box, the others fill it.
    public static func tightBounds(_ shape: ShapeKind) -> (Double, Double, Double, Double) {
        guard shape == .star else { return (-0.5, -0.5, 0.5, 0.5) }
        let xs = starVertices.map { $0.0 }, ys = starVertices.map { $0.1 }
        return (xs.min()!, ys.min()!, xs.max()!, ys.max()!)
    }

    /// Even-odd rule point-in-polygon test.
    static func insidePolygon(_ v: [(Double, Double)], x: Double, y: Double) -> Bool {
        var inside = false
        var j = v.count - 1
        for i in 0..<v.count {
            let (xi, yi) = v[i], (xj, yj) = v[j]
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside.toggle()
            }
            j = i
        }
        return inside
    }
}
