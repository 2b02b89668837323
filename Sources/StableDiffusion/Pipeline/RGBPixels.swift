import Compute

/// A decoded image as 8-bit RGB, rows top to bottom, pixels interleaved R, G, B
/// (`width * height * 3` bytes). The one conversion from the VAE's float output, used by the
/// local pipeline and by workers alike.
public struct RGBPixels: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let rgb: [UInt8]

    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(rgb.count == width * height * 3, "\(width)x\(height) RGB needs \(width * height * 3) bytes, got \(rgb.count)")
        self.width = width
        self.height = height
        self.rgb = rgb
    }

    /// From the VAE decoder's `[1, 3, H, W]` in about [-1, 1], the way diffusers' image processor
    /// does it: `(x / 2 + 0.5)` clamped to [0, 1], times 255, rounded to nearest (ties to even).
    public init(decoded image: Tensor) {
        precondition(image.shape.count == 4 && image.shape[0] == 1 && image.shape[1] == 3, "decoded image \(image.shape) is not [1, 3, H, W]")
        self.init(width: image.shape[3], height: image.shape[2], rgb: Self.bytes(image))
    }

    /// `[1, 3, H, W]` in about [-1, 1] to interleaved RGB bytes.
    public static func bytes(_ image: Tensor) -> [UInt8] {
        let (h, w) = (image.shape[2], image.shape[3])
        var out = [UInt8](repeating: 0, count: h * w * 3)
        for c in 0..<3 {
            let plane = image.pointer + c * h * w
            for p in 0..<(h * w) {
                let v = min(1, max(0, plane[p] / 2 + 0.5))
                out[p * 3 + c] = UInt8((v * 255).rounded(.toNearestOrEven))
            }
        }
        return out
    }

    /// The size the image would have as a decoded tensor, `[1, 3, height, width]`.
    public var imageShape: [Int] { [1, 3, height, width] }
}
