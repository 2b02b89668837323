import Foundation

extension RGBImage {
    /// Peak signal-to-noise ratio to `other` in dB over all channels, `10 log10(255^2 / MSE)`;
    /// `identicalValue` for identical pixels (infinite otherwise), nil when the sizes differ.
    public func psnr(to other: RGBImage, identicalValue: Double = .infinity) -> Double? {
        guard width == other.width, height == other.height else { return nil }
        var sum = 0.0
        for i in 0..<pixels.count {
            let d = Double(pixels[i]) - Double(other.pixels[i])
            sum += d * d
        }
        guard sum > 0 else { return identicalValue }
        return 10 * log10(255 * 255 / (sum / Double(pixels.count)))
    }
}
