import ImageIO

/// The measurements behind the judge, one function per attribute.
enum JudgeMeasures {
    struct Box { var minX: Int, minY: Int, maxX: Int, maxY: Int }

    static func color(_ image: RGBImage, _ i: Int) -> RGB {
        RGB(Double(image.pixels[3 * i]), Double(image.pixels[3 * i + 1]), Double(image.pixels[3 * i + 2]))
    }

    /// Channel-wise median of the outer border ring (1/32 of the shorter side wide, at least 1 px).
    static func borderMedian(_ image: RGBImage) -> RGB {
        let ring = max(1, min(image.width, image.height) / 32)
        var channels: [[UInt8]] = [[], [], []]
        for y in 0..<image.height {
            for x in 0..<image.width where x < ring || y < ring || x >= image.width - ring || y >= image.height - ring {
                let i = 3 * (y * image.width + x)
                for c in 0..<3 { channels[c].append(image.pixels[i + c]) }
            }
        }
        let m = channels.map { ch -> Double in
            let s = ch.sorted()
            return s.isEmpty ? 0 : Double(s[s.count / 2])
        }
        return RGB(m[0], m[1], m[2])
    }

    /// Pixels clearly different from the background colour.
    static func objectMask(_ image: RGBImage, background: RGB, threshold: Double) -> [Bool] {
        let t2 = threshold * threshold
        return (0..<(image.width * image.height)).map { color(image, $0).distanceSquared(to: background) > t2 }
    }

    static func boundingBox(_ mask: [Bool], width: Int) -> Box? {
        var box: Box? = nil
        for (i, m) in mask.enumerated() where m {
            let x = i % width, y = i / width
            if var b = box {
                b.minX = min(b.minX, x); b.maxX = max(b.maxX, x)
                b.minY = min(b.minY, y); b.maxY = max(b.maxY, y)
                box = b
            } else {
                box = Box(minX: x, minY: y, maxX: x, maxY: y)
            }
        }
        return box
    }

    /// The palette colour most mask pixels are nearest to.
    static func majorityColor(_ image: RGBImage, mask: [Bool]) -> PaletteColor {
        var counts = [PaletteColor: Int]()
        for (i, m) in mask.enumerated() where m {
            counts[PaletteColor.nearest(to: color(image, i)), default: 0] += 1
        }
        return PaletteColor.allCases.max { counts[$0, default: 0] < counts[$1, default: 0] }!
    }

    /// The shape whose template, stretched over the mask's bounding box, has the best IoU.
    static func bestShape(_ mask: [Bool], width: Int, box: Box) -> (ShapeKind, Double) {
        var best = (ShapeKind.circle, -1.0)
        let bw = Double(box.maxX - box.minX + 1), bh = Double(box.maxY - box.minY + 1)
        let maskCount = mask.reduce(0) { $0 + ($1 ? 1 : 0) }
        for shape in ShapeKind.allCases {
            let (x0, y0, x1, y1) = ShapeGeometry.tightBounds(shape)
            var inter = 0, template = 0
            for y in box.minY...box.maxY {
                let uy = y0 + (Double(y - box.minY) + 0.5) / bh * (y1 - y0)
                for x in box.minX...box.maxX {
                    let ux = x0 + (Double(x - box.minX) + 0.5) / bw * (x1 - x0)
                    guard ShapeGeometry.contains(shape, x: ux, y: uy) else { continue }
                    template += 1
                    if mask[y * width + x] { inter += 1 }
                }
            }
            let iou = Double(inter) / Double(template + maskCount - inter)
            if iou > best.1 { best = (shape, iou) }
        }
        return best
    }

    /// From the mask's centroid: centre when both offsets are under 0.08 of the side, else the
    /// axis with the larger offset decides.
    static func position(_ mask: [Bool], width: Int, height: Int) -> ShapePosition {
        var sx = 0.0, sy = 0.0, n = 0.0
        for (i, m) in mask.enumerated() where m {
            sx += Double(i % width) + 0.5; sy += Double(i / width) + 0.5; n += 1
        }
        let dx = sx / n / Double(width) - 0.5, dy = sy / n / Double(height) - 0.5
        if abs(dx) < 0.08 && abs(dy) < 0.08 { return .center }
        if abs(dx) >= abs(dy) { return dx < 0 ? .left : .right }
        return dy < 0 ? .top : .bottom
    }

    /// Plain when few interior pixels lean towards the dark colour (0.55 x the object colour); otherwise striped when dark pixels stay dark when moved along the
    /// stripe direction (x + d, y - d), dotted when they do not.
    static func pattern(_ image: RGBImage, mask: [Bool], color: PaletteColor) -> ShapePattern {
        let w = image.width, h = image.height
        let fg = color.rgb, dark = fg.scaled(0.55)
        let axis = RGB(fg.r - dark.r, fg.g - dark.g, fg.b - dark.b)
        let axisLength2 = max(1, axis.r * axis.r + axis.g * axis.g + axis.b * axis.b)
        var interior = [Bool](repeating: false, count: w * h)
        var dark_ = [Bool](repeating: false, count: w * h)
        var interiorCount = 0, darkCount = 0
        for y in 1..<max(1, h - 1) {
            for x in 1..<max(1, w - 1) {
                var all = true
                for dy in -1...1 { for dx in -1...1 where !mask[(y + dy) * w + x + dx] { all = false } }
                guard all else { continue }
                let i = y * w + x
                interior[i] = true
                interiorCount += 1
                // How far the pixel lies from the object colour towards the dark colour (0 to 1);
                // beyond 0.35 counts as dark, so thin anti-aliased dots at small sizes still count.
                let c = Self.color(image, i)
                let alpha = ((fg.r - c.r) * axis.r + (fg.g - c.g) * axis.g + (fg.b - c.b) * axis.b) / axisLength2
                if alpha > 0.35 { dark_[i] = true; darkCount += 1 }
            }
        }
        guard interiorCount > 0, Double(darkCount) / Double(interiorCount) >= 0.08 else { return .plain }
        let d = max(1, Int((Double(min(w, h)) / 24).rounded()))
        var moved = 0, stillDark = 0
        for y in 0..<h {
            for x in 0..<w where dark_[y * w + x] {
                for (mx, my) in [(x + d, y - d), (x - d, y + d)] where mx >= 0 && mx < w && my >= 0 && my < h {
                    guard interior[my * w + mx] else { continue }
                    moved += 1
                    if dark_[my * w + mx] { stillDark += 1 }
                }
            }
        }
        return moved > 0 && Double(stillDark) / Double(moved) >= 0.6 ? .striped : .dotted
    }
}
