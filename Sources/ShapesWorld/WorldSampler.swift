/// One drawn example: what the image holds, and what its caption states.
public struct ShapeExample: Codable, Equatable, Sendable {
    public var attributes: ShapeAttributes
    public var stated: StatedAttributes
    public var caption: String
}

/// Draws random examples as the spec says: every attribute uniform (the object's colour never
/// the background's), small jitter, and each optional caption part left out about a third of
/// the time.
public enum WorldSampler {
    /// Probability that an optional caption part (size, pattern, position, background) is left out.
    public static let dropProbability = 1.0 / 3.0

    /// A random example from `rng`.
    public static func example(_ rng: inout SeededRandom) -> ShapeExample {
        let color = rng.pick(PaletteColor.allCases)
        let background = rng.pick(PaletteColor.allCases.filter { $0 != color })
        let attributes = ShapeAttributes(
            color: color, background: background,
            shape: rng.pick(ShapeKind.allCases), size: rng.pick(ShapeSize.allCases),
            position: rng.pick(ShapePosition.allCases), pattern: rng.pick(ShapePattern.allCases),
            jitterX: (rng.unit() * 2 - 1) * 0.02, jitterY: (rng.unit() * 2 - 1) * 0.02,
            scale: 0.95 + rng.unit() * 0.10)
        var stated = StatedAttributes(all: attributes)
        if rng.unit() < dropProbability { stated.size = nil }
        if rng.unit() < dropProbability || attributes.pattern == .plain { stated.pattern = nil }
        if rng.unit() < dropProbability { stated.position = nil }
        if rng.unit() < dropProbability { stated.background = nil }
        return ShapeExample(attributes: attributes, stated: stated, caption: Caption.text(stated))
    }

    /// Example `index` of the collection seeded by `seed` (independent of other indices).
    public static func example(seed: UInt64, index: Int) -> ShapeExample {
        var rng = SeededRandom(seed: seed, index: index)
        return example(&rng)
    }
}
