import Compute

/// diffusers' `AutoencoderKL` (SD v1 structure): the decoder that turns latents into images and
/// the encoder that turns images into latent distributions.
public final class AutoencoderKL {
    public struct Shape: Equatable {
        public var inChannels: Int
        public var outChannels: Int
        public var latentChannels: Int
        public var blockOutChannels: [Int]
        public var layersPerBlock: Int
        public var groups: Int
        public var scalingFactor: Float
        public var useQuantConv: Bool
        public var usePostQuantConv: Bool
        public var midBlockAttention: Bool

        /// Pixels per latent along each side.
        public var downscaleFactor: Int { 1 << (blockOutChannels.count - 1) }
    }

    public let shape: Shape
    let encoder: VAEEncoder
    let decoder: VAEDecoder
    let quantConv: Conv2D?
    let postQuantConv: Conv2D?

    init(_ w: WeightScope, shape: Shape) throws {
        self.shape = shape
        encoder = try VAEEncoder(w("encoder"), shape: shape)
        decoder = try VAEDecoder(w("decoder"), shape: shape)
        let l = shape.latentChannels
        quantConv = shape.useQuantConv ? try .load(w("quant_conv"), in: 2 * l, out: 2 * l, kernel: 1) : nil
        postQuantConv = shape.usePostQuantConv ? try .load(w("post_quant_conv"), in: l, out: l, kernel: 1) : nil
    }

    /// Raw decoder: `[N, latentChannels, h, w]` latents (already divided by the scaling factor)
    /// to `[N, outChannels, H, W]` images in about [-1, 1]. Throws `ShapeError` for latents of
    /// another shape, `DNNLError` when oneDNN fails.
    public func decode(_ latents: Tensor) throws -> Tensor {
        guard latents.shape.count == 4, latents.shape[0] >= 1, latents.shape[1] == shape.latentChannels,
              latents.shape[2] >= 1, latents.shape[3] >= 1 else {
            throw ShapeError("VAE decoder", expected: "latents [N, \(shape.latentChannels), h, w]", got: latents.shape)
        }
        let outputs = try (0..<latents.shape[0]).map { i -> Tensor in
            var z = try latents.sample(i).nchwToNHWC()
            if let postQuantConv { z = try postQuantConv(z) }
            return try decoder(z)
        }
        return try Tensor.concatenateBatch(outputs).nhwcToNCHW()
    }

    /// Encoder: `[N, inChannels, H, W]` images in [-1, 1] to the latent distribution's mean and
    /// log-variance (clamped to [-30, 20] as diffusers does), each `[N, latentChannels, h, w]`.
    /// Throws `ShapeError` for images of another shape, `DNNLError` when oneDNN fails.
    public func encode(_ images: Tensor) throws -> (mean: Tensor, logVariance: Tensor) {
        guard images.shape.count == 4, images.shape[0] >= 1, images.shape[1] == shape.inChannels,
              images.shape[2] >= 1, images.shape[3] >= 1 else {
            throw ShapeError("VAE encoder", expected: "images [N, \(shape.inChannels), H, W]", got: images.shape)
        }
        let l = shape.latentChannels
        var means: [Tensor] = [], logvars: [Tensor] = []
        for i in 0..<images.shape[0] {
            var moments = try encoder(images.sample(i).nchwToNHWC())
            if let quantConv { moments = try quantConv(moments) }
            let (h, w) = (moments.shape[1], moments.shape[2])
            let mean = Tensor(uninitialized: [1, h, w, l]), logvar = Tensor(uninitialized: [1, h, w, l])
            for p in 0..<(h * w) {
                for c in 0..<l {
                    mean.pointer[p * l + c] = moments.pointer[p * 2 * l + c]
                    logvar.pointer[p * l + c] = min(20, max(-30, moments.pointer[p * 2 * l + l + c]))
                }
            }
            means.append(mean)
            logvars.append(logvar)
        }
        return (try Tensor.concatenateBatch(means).nhwcToNCHW(), try Tensor.concatenateBatch(logvars).nhwcToNCHW())
    }
}
