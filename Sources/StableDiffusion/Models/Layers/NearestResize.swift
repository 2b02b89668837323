import Compute

/// Nearest-neighbour resizing of a channels-last `[N, H, W, C]` tensor to any size, as PyTorch's
/// `F.interpolate(x, size=(h, w), mode="nearest")` does it (the legacy "nearest" rule, not
/// "nearest-exact"): each output row and column takes its source independently,
/// `src = min(floor(dst * (in / out)), in - 1)` with the scale and the product in float32, and the
/// two shortcuts ATen takes before any float arithmetic: the same size copies, twice the size
/// repeats each element (`src = dst / 2`).
///
/// The UNet's upsamplers use it when a latent side is not a multiple of the overall up factor
/// (diffusers' `upsample_size`), before their unfolded 3x3 convolution; exactly 2x never makes
/// the upsampled tensor (`UpsampleConvolution` folds it into the convolution).
enum NearestResize {
    /// The source index of output index `dst` along an axis resized from `input` to `output`.
    static func sourceIndex(_ dst: Int, input: Int, output: Int) -> Int {
        if output == input { return dst }
        if output == 2 * input { return dst >> 1 }
        let scale = Float(input) / Float(output)
        return min(Int((Float(dst) * scale).rounded(.down)), input - 1)
    }

    /// `x` resized to `height` x `width` (batch and channels unchanged). Throws `ShapeError`
    /// for a tensor that is not `[N, H, W, C]` or an empty size.
    static func resize(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        guard x.shape.count == 4, x.shape[1] >= 1, x.shape[2] >= 1, height >= 1, width >= 1 else {
            throw ShapeError("nearest resize to \(height)x\(width)", expected: "[N, H, W, C] with H, W >= 1 (and a size >= 1)", got: x.shape)
        }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if height == 2 * h && width == 2 * w { return try Elementwise.upsampleNearest2x(x) }
        if height == h && width == w { return x }
        let rows = (0..<height).map { sourceIndex($0, input: h, output: height) }
        let cols = (0..<width).map { sourceIndex($0, input: w, output: width) }
        let out = Tensor(uninitialized: [n, height, width, c])
        let src = x.pointer, dst = out.pointer
        for b in 0..<n {
            for (oy, iy) in rows.enumerated() {
                let inRow = src + (b * h + iy) * w * c
                let outRow = dst + (b * height + oy) * width * c
                for (ox, ix) in cols.enumerated() {
                    (outRow + ox * c).update(from: inRow + ix * c, count: c)
                }
            }
        }
        return out
    }
}
