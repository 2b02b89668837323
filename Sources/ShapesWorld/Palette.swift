/// The eight named sRGB colours of the shapes world (shapes-world.md, "Palette").
public enum PaletteColor: String, CaseIterable, Codable, Sendable {
    case red, green, blue, yellow, purple, orange, white, black

    /// The colour's sRGB value.
    public var rgb: RGB {
        switch self {
        case .red: return RGB(220, 40, 40)
        case .green: return RGB(40, 170, 60)
        case .blue: return RGB(40, 80, 220)
        case .yellow: return RGB(240, 210, 40)
        case .purple: return RGB(140, 60, 190)
        case .orange: return RGB(245, 140, 30)
        case .white: return RGB(245, 245, 245)
        case .black: return RGB(25, 25, 25)
        }
    }

    /// The palette colour nearest to `c` (Euclidean distance in sRGB).
    public static func nearest(to c: RGB) -> PaletteColor {
        var best = PaletteColor.red
        var bestDistance = Double.infinity
        for p in allCases {
            let d = p.rgb.distanceSquared(to: c)
            if d < bestDistance { bestDistance = d; best = p }
        }
        return best
    }
}

/// A colour with floating-point sRGB channels on the 0...255 scale.
public struct RGB: Equatable, Sendable {
    public var r: Double, g: Double, b: Double

    public init(_ r: Double, _ g: Double, _ b: Double) {
        self.r = r; self.g = g; self.b = b
    }

    /// The colour scaled channel by channel (the pattern's dark colour is `0.55 *` the object's).
    public func scaled(_ k: Double) -> RGB { RGB(r * k, g * k, b * k) }

    /// Squared Euclidean distance in sRGB.
    public func distanceSquared(to o: RGB) -> Double {
        let dr = r - o.r, dg = g - o.g, db = b - o.b
        return dr * dr + dg * dg + db * db
    }
}
