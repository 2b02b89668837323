/// The object's outline (shapes-world.md, "Objects").
public enum ShapeKind: String, CaseIterable, Codable, Sendable {
    case circle, square, triangle, star, cross
}

/// `small` (bounding box about 0.30 of the side) or `large` (about 0.55).
public enum ShapeSize: String, CaseIterable, Codable, Sendable {
    case small, large

    /// Nominal bounding-box side as a fraction of the image side.
    public var fraction: Double { self == .small ? 0.30 : 0.55 }
    /// How far the centre moves for a non-centre position, as a fraction of the side.
    public var offset: Double { self == .small ? 0.22 : 0.17 }
}

/// Where the object's centre sits.
public enum ShapePosition: String, CaseIterable, Codable, Sendable {
    case center, left, right, top, bottom

    /// Unit direction of the offset (y grows downwards, as in image rows).
    public var direction: (dx: Double, dy: Double) {
        switch self {
        case .center: return (0, 0)
        case .left: return (-1, 0)
        case .right: return (1, 0)
        case .top: return (0, -1)
        case .bottom: return (0, 1)
        }
    }

    /// The caption phrase: `in the center`, `on the left`, ...
    public var phrase: String {
        switch self {
        case .center: return "in the center"
        case .left: return "on the left"
        case .right: return "on the right"
        case .top: return "at the top"
        case .bottom: return "at the bottom"
        }
    }
}

/// The object's surface detail.
public enum ShapePattern: String, CaseIterable, Codable, Sendable {
    case plain, striped, dotted
}

/// Everything that determines one image: the attributes a caption can state, and the jitter
/// (centre and scale) that the caption never mentions.
public struct ShapeAttributes: Codable, Equatable, Sendable {
    public var color: PaletteColor
    public var background: PaletteColor
    public var shape: ShapeKind
    public var size: ShapeSize
    public var position: ShapePosition
    public var pattern: ShapePattern
    /// Extra offset of the centre, as a fraction of the side (jitter, within +-0.02).
    public var jitterX: Double
    public var jitterY: Double
    /// Multiplier on the nominal size (jitter, within 0.95...1.05).
    public var scale: Double

    public init(color: PaletteColor, background: PaletteColor, shape: ShapeKind, size: ShapeSize,
                position: ShapePosition, pattern: ShapePattern,
                jitterX: Double = 0, jitterY: Double = 0, scale: Double = 1) {
        self.color = color; self.background = background; self.shape = shape; self.size = size
        self.position = position; self.pattern = pattern
        self.jitterX = jitterX; self.jitterY = jitterY; self.scale = scale
    }

    enum CodingKeys: String, CodingKey {
        case color, background, shape, size, position, pattern
        case jitterX = "jitter_x", jitterY = "jitter_y", scale
    }

    /// Centre of the object in fractions of the side (0.5, 0.5 is the image centre).
    public var center: (x: Double, y: Double) {
        let d = position.direction
        return (0.5 + d.dx * size.offset + jitterX, 0.5 + d.dy * size.offset + jitterY)
    }

    /// Side of the object's nominal bounding box as a fraction of the image side.
    public var extent: Double { size.fraction * scale }
}
