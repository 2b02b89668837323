import ImageIO

/// Draws one shapes-world image: flat background, one object, optional pattern, anti-aliased
/// by supersampling each pixel on an n x n grid.
public struct Rasterizer: Sendable {
    /// Sub-samples per pixel side (4 gives 16 samples per pixel).
    public var supersampling: Int

    public init(supersampling: Int = 4) {
        precondition(supersampling >= 1, "supersampling must be at least 1")
        self.supersampling = supersampling
    }

    /// The image of `attributes` at `side` x `side` pixels.
    public func draw(_ attributes: ShapeAttributes, side: Int) -> RGBImage {
        let bg = attributes.background.rgb
        let fg = attributes.color.rgb
        let dark = fg.scaled(0.55)
        var image = RGBImage(width: side, height: side, fill: Self.bytes(bg))
        let s = Double(side)
        let (cx, cy) = attributes.center
        let half = attributes.extent * (0.5 + 1.0 / 6.0)  // covers the triangle's shifted box too
        // Only pixels that the object's box touches need sub-samples.
        let x0 = max(0, Int(((cx - half) * s).rounded(.down)) - 1), x1 = min(side - 1, Int(((cx + half) * s).rounded(.up)) + 1)
        let y0 = max(0, Int(((cy - half) * s).rounded(.down)) - 1), y1 = min(side - 1, Int(((cy + half) * s).rounded(.up)) + 1)
        guard x0 <= x1, y0 <= y1 else { return image }
        let n = supersampling, weight = 1.0 / Double(n * n)
        for py in y0...y1 {
            for px in x0...x1 {
                var acc = RGB(0, 0, 0)
                for sy in 0..<n {
                    for sx in 0..<n {
                        // Sample position in fractions of the side.
                        let fx = (Double(px) + (Double(sx) + 0.5) / Double(n)) / s
                        let fy = (Double(py) + (Double(sy) + 0.5) / Double(n)) / s
                        let c = sampleColor(attributes, fx: fx, fy: fy, bg: bg, fg: fg, dark: dark)
                        acc.r += c.r; acc.g += c.g; acc.b += c.b
                    }
                }
                image[px, py] = Self.bytes(acc.scaled(weight))
            }
        }
        return image
    }

    private func sampleColor(_ a: ShapeAttributes, fx: Double, fy: Double, bg: RGB, fg: RGB, dark: RGB) -> RGB {
        let (cx, cy) = a.center
        let centroid = ShapeGeometry.centroid(a.shape)
        let ux = (fx - cx) / a.extent + centroid.x, uy = (fy - cy) / a.extent + centroid.y
        guard ShapeGeometry.contains(a.shape, x: ux, y: uy) else { return bg }
        return Self.isDark(a.pattern, fx: fx - cx, fy: fy - cy) ? dark : fg
    }

    /// Whether a point of the object (offset from its centre, in fractions of the side) lies
    /// in the pattern's dark part. Patterns are anchored at the object's centre.
    static func isDark(_ pattern: ShapePattern, fx: Double, fy: Double) -> Bool {
        switch pattern {
        case .plain:
            return false
        case .striped:
            // Diagonal stripes, period 1/16 of the side measured across them, dark third.
            let period = 1.0 / 16.0
            let u = (fx + fy) / 2.0.squareRoot() / period
            let phase = u - u.rounded(.down)
            return phase < 1.0 / 3.0
        case .dotted:
            // Square grid of dots, period 1/12, diameter half the period.
            let period = 1.0 / 12.0
            let dx = fx / period - (fx / period).rounded(), dy = fy / period - (fy / period).rounded()
            return dx * dx + dy * dy <= 0.25 * 0.25
        }
    }

    static func bytes(_ c: RGB) -> (UInt8, UInt8, UInt8) {
        func q(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
        return (q(c.r), q(c.g), q(c.b))
    }
}
