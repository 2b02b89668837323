import ImageIO

/// What the judge sees in one image (shapes-world.md, "The judge"). `nil` fields could not be
/// determined (no object found).
public struct JudgedAttributes: Codable, Equatable, Sendable {
    public var background: PaletteColor
    public var color: PaletteColor?
    public var shape: ShapeKind?
    public var size: ShapeSize?
    public var position: ShapePosition?
    public var pattern: ShapePattern?
    /// Share of the image's pixels in the object mask.
    public var maskFraction: Double
    /// Intersection over union of the best shape template with the mask.
    public var shapeIoU: Double

    enum CodingKeys: String, CodingKey {
        case background, color, shape, size, position, pattern
        case maskFraction = "mask_fraction", shapeIoU = "shape_iou"
    }
}

/// The judge: recovers the attributes of an image by measurement.
public struct Judge: Sendable {
    /// A pixel belongs to the object when it is farther than this (sRGB, 0-255) from the
    /// background colour measured on the border (or than 0.4 of the distance from the
    /// background's palette colour to the closest other palette colour, when that is less).
    public var maskThreshold: Double = 60

    public init() {}

    /// The attributes found in `image` (any size, need not be square).
    public func judge(_ image: RGBImage) -> JudgedAttributes {
        let bgColor = JudgeMeasures.borderMedian(image)
        let background = PaletteColor.nearest(to: bgColor)
        // Yellow and orange are only 71 apart: near such a background the cut must sit closer,
        // or the object's dots and anti-aliased rims fall out of the mask.
        let closest = PaletteColor.allCases.filter { $0 != background }
            .map { $0.rgb.distanceSquared(to: background.rgb).squareRoot() }.min()!
        let threshold = min(maskThreshold, 0.4 * closest)
        let mask = JudgeMeasures.objectMask(image, background: bgColor, threshold: threshold)
        let count = mask.reduce(0) { $0 + ($1 ? 1 : 0) }
        var result = JudgedAttributes(background: background, color: nil, shape: nil, size: nil,
                                      position: nil, pattern: nil,
                                      maskFraction: Double(count) / Double(max(1, mask.count)), shapeIoU: 0)
        guard count > 0, let box = JudgeMeasures.boundingBox(mask, width: image.width) else { return result }
        let color = JudgeMeasures.majorityColor(image, mask: mask)
        result.color = color
        let (shape, iou) = JudgeMeasures.bestShape(mask, width: image.width, box: box)
        result.shape = shape
        result.shapeIoU = iou
        let w = Double(image.width), h = Double(image.height)
        let extent = max(Double(box.maxX - box.minX + 1) / w, Double(box.maxY - box.minY + 1) / h)
        result.size = extent < 0.42 ? .small : .large
        result.position = JudgeMeasures.position(mask, width: image.width, height: image.height)
        result.pattern = JudgeMeasures.pattern(image, mask: mask, color: color)
        return result
    }

    /// Per-attribute agreement of `judged` with what `stated` says (only stated attributes count).
    public static func agreement(_ judged: JudgedAttributes, _ stated: StatedAttributes) -> [Attribute: Bool] {
        var out: [Attribute: Bool] = [:]
        if let v = stated.background { out[.background] = judged.background == v }
        if let v = stated.color { out[.color] = judged.color == v }
        if let v = stated.shape { out[.shape] = judged.shape == v }
        if let v = stated.size { out[.size] = judged.size == v }
        if let v = stated.position { out[.position] = judged.position == v }
        if let v = stated.pattern { out[.pattern] = judged.pattern == v }
        return out
    }

    /// The attributes the judge scores, in report order.
    public enum Attribute: String, CaseIterable, Codable, Sendable {
        case background, color, shape, size, position, pattern
    }
}
