import Foundation

/// A line chart rasterised into an `RGBImage` (the probes' plots): axes with labelled ticks,
/// one polyline with markers per series, a legend. No fonts or libraries needed.
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var color: (UInt8, UInt8, UInt8)
        public var points: [(x: Double, y: Double)]

        public init(name: String, color: (UInt8, UInt8, UInt8), points: [(x: Double, y: Double)]) {
            self.name = name
            self.color = color
            self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Axis ranges; nil: the data's range.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    /// Named x positions (categories) instead of five numbered ticks.
    public var xTicks: [(x: Double, label: String)]?

    public init(title: String, xLabel: String, yLabel: String, series: [Series],
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
                xTicks: [(x: Double, label: String)]? = nil) {
        self.xTicks = xTicks
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.xRange = xRange
        self.yRange = yRange
    }

    /// Distinct colours for up to eight series (then they repeat).
    public static let palette: [(UInt8, UInt8, UInt8)] = [
        (31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14),
        (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
    ]

    public func render(width: Int = 720, height: Int = 440) -> RGBImage {
        var canvas = Canvas(width: width, height: height)
        let left = 70, right = width - 20, top = 36, bottom = height - 50
        let xs = xRange ?? Self.range(series.flatMap { $0.points.map(\.x) })
        let ys = yRange ?? Self.range(series.flatMap { $0.points.map(\.y) })
        func px(_ x: Double) -> Int { left + Int(((x - xs.lowerBound) / (xs.upperBound - xs.lowerBound) * Double(right - left)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int(((y - ys.lowerBound) / (ys.upperBound - ys.lowerBound) * Double(bottom - top)).rounded()) }
        let grid: (UInt8, UInt8, UInt8) = (225, 225, 225), ink: (UInt8, UInt8, UInt8) = (0, 0, 0)
        let numbered = (0...5).map { i -> (x: Double, label: String) in
            let fx = xs.lowerBound + (xs.upperBound - xs.lowerBound) * Double(i) / 5
            return (fx, Self.tick(fx))
        }
        for (fx, xText) in xTicks ?? numbered {
            canvas.line(px(fx), top, px(fx), bottom, grid, thickness: 1)
            canvas.text(xText, x: px(fx) - BitmapFont.width(of: xText, scale: 2) / 2, y: bottom + 8, ink, scale: 2)
        }
        for i in 0...5 {
            let fy = ys.lowerBound + (ys.upperBound - ys.lowerBound) * Double(i) / 5
            canvas.line(left, py(fy), right, py(fy), grid, thickness: 1)
            let yText = Self.tick(fy)
            canvas.text(yText, x: left - 8 - BitmapFont.width(of: yText, scale: 2), y: py(fy) - 5, ink, scale: 2)
        }
        canvas.line(left, bottom, right, bottom, ink, thickness: 1)
        canvas.line(left, top, left, bottom, ink, thickness: 1)
        canvas.text(title, x: (width - BitmapFont.width(of: title, scale: 2)) / 2, y: 10, ink, scale: 2)
        canvas.text(xLabel, x: (left + right - BitmapFont.width(of: xLabel, scale: 2)) / 2, y: height - 18, ink, scale: 2)
        canvas.text(yLabel, x: 6, y: top - 20, ink, scale: 2)
        for s in series {
            let points = s.points.map { (px($0.x), py($0.y)) }
            for (a, b) in zip(points, points.dropFirst()) { canvas.line(a.0, a.1, b.0, b.1, s.color, thickness: 2) }
            for p in points { canvas.fill(p.0 - 2, p.1 - 2, 5, 5, s.color) }
        }
        // The legend on a white box, so lines behind it do not cross its text.
        let legendWidth = (series.map { BitmapFont.width(of: $0.name, scale: 2) }.max() ?? 0) + 24
        if !series.isEmpty { canvas.fill(right - 18 - legendWidth, top + 2, legendWidth + 12, series.count * 16 + 6, (255, 255, 255)) }
        for (i, s) in series.enumerated() {
            let y = top + 6 + i * 16, x = right - 12 - legendWidth
            canvas.fill(x, y + 3, 18, 4, s.color)
            canvas.text(s.name, x: x + 24, y: y, ink, scale: 2)
        }
        return canvas.image
    }

    /// The values' range, widened when they are all equal.
    static func range(_ values: [Double]) -> ClosedRange<Double> {
        let finite = values.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return 0...1 }
        return lo < hi ? lo...hi : (lo - 1)...(hi + 1)
    }

    static func tick(_ v: Double) -> String {
        let a = abs(v)
        if a != 0 && (a < 0.01 || a >= 100_000) { return String(format: "%.1e", v) }
        if v == v.rounded() { return String(Int(v)) }
        return String(format: a < 1 ? "%.3g" : "%.4g", v)
    }
}

/// Pixels to draw on, clipped at the edges.
private struct Canvas {
    var image: RGBImage

    init(width: Int, height: Int) { image = RGBImage(width: width, height: height, fill: (255, 255, 255)) }

    mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
        let i = (y * image.width + x) * 3
        image.pixels[i] = c.0; image.pixels[i + 1] = c.1; image.pixels[i + 2] = c.2
    }

    mutating func fill(_ x: Int, _ y: Int, _ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) {
        for yy in y..<(y + h) { for xx in x..<(x + w) { set(xx, yy, c) } }
    }

    /// Bresenham's line, `thickness` pixels wide.
    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8), thickness: Int) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            fill(x - thickness / 2, y - thickness / 2, thickness, thickness, c)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    mutating func text(_ s: String, x: Int, y: Int, _ c: (UInt8, UInt8, UInt8), scale: Int) {
        for (i, ch) in s.enumerated() {
            let gx = x + i * (BitmapFont.glyphWidth + 1) * scale
            for row in 0..<BitmapFont.glyphHeight {
                for col in 0..<BitmapFont.glyphWidth where BitmapFont.isSet(ch, x: col, y: row) {
                    fill(gx + col * scale, y + row * scale, scale, scale, c)
                }
            }
        }
    }
}
