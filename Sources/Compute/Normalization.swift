import Foundation

/// Group normalisation over channels-last activations `[N, H, W, C]`, optionally followed by
/// SiLU (the pair every ResNet block starts with). Statistics are accumulated in Double, per
/// sample, so the result does not depend on the batch.
public struct GroupNorm: Sendable {
    public let groups: Int
    public let epsilon: Float
    public let gamma: Tensor
    public let beta: Tensor

    /// Throws `ShapeError` when `gamma` and `beta` differ in size or their channels do not
    /// split into `groups` groups.
    public init(groups: Int, epsilon: Float, gamma: Tensor, beta: Tensor) throws {
        guard groups >= 1, gamma.count >= 1, gamma.count % groups == 0, beta.count == gamma.count else {
            throw ShapeError("group norm over \(groups) groups", expected: "gamma and beta of the same size, a multiple of \(groups)",
                             got: [gamma.count, beta.count])
        }
        self.groups = groups
        self.epsilon = epsilon
        self.gamma = gamma
        self.beta = beta
    }

    /// Normalises `x` (`[N, ..., C]`, C the layer's channels). Throws `ShapeError` for
    /// another channel count, fewer than two dimensions or an empty tensor. An `x` passed with
    /// `consume` that nothing else holds is normalised in place (the same arithmetic), so its
    /// memory is not needed twice.
    public func callAsFunction(_ x: consuming Tensor, silu: Bool = false) throws -> Tensor {
        var input = consume x
        guard input.shape.count >= 2, input.shape.last == gamma.count, input.count > 0 else {
            throw ShapeError("group norm over \(gamma.count) channels", expected: "[N, ..., \(gamma.count)]", got: input.shape)
        }
        let out = input.isUniquelyReferenced() ? input : Tensor(uninitialized: input.shape)
        OpStatistics.shared.measure("group norm\(silu ? " + silu" : "") \(input.shape.dropFirst())") { apply(input, silu: silu, into: out) }
        return out
    }

    /// Each sample's statistics are taken before any of its values are written, and each value
    /// is written only from itself, so `out` may be `x`.
    private func apply(_ x: Tensor, silu: Bool, into out: Tensor) {
        let c = x.shape[x.shape.count - 1]
        let n = x.shape[0]
        let pixels = x.count / n / c
        let scale = UnsafeMutablePointer<Float>.allocate(capacity: c)
        let shift = UnsafeMutablePointer<Float>.allocate(capacity: c)
        defer { scale.deallocate(); shift.deallocate() }
        for b in 0..<n {
            let src = x.pointer + b * pixels * c
            channelAffine(src, pixels: pixels, channels: c, scale: scale, shift: shift)
            let dst = out.pointer + b * pixels * c
            Threads.parallelFor(pixels, itemCost: c) { start, end in
                for p in start..<end {
                    affineRow(src + p * c, dst + p * c, scale, shift, c, silu)
                }
            }
        }
    }

    /// Pixels per block of the statistics pass. The blocks are fixed by the input's size alone
    /// and their partial sums are added in block order, so the statistics (and the image) are the
    /// same bits whatever the thread count.
    static let statisticsBlockWork = 1 << 16

    /// Folds mean, variance, gamma and beta into one scale and shift per channel.
    private func channelAffine(_ src: UnsafePointer<Float>, pixels: Int, channels c: Int,
                               scale: UnsafeMutablePointer<Float>, shift: UnsafeMutablePointer<Float>) {
        let perGroup = c / groups
        let blockPixels = max(1, GroupNorm.statisticsBlockWork / c)
        let blocks = (pixels + blockPixels - 1) / blockPixels
        var partialSum = [Double](repeating: 0, count: blocks * c)
        var partialSq = [Double](repeating: 0, count: blocks * c)
        partialSum.withUnsafeMutableBufferPointer { sums in
            partialSq.withUnsafeMutableBufferPointer { sqs in
                let sp = sums.baseAddress!, qp = sqs.baseAddress!
                Threads.parallelFor(blocks, itemCost: blockPixels * c) { b0, b1 in
                    for blk in b0..<b1 {
                        let s = sp + blk * c, q = qp + blk * c
                        for p in (blk * blockPixels)..<min(pixels, (blk + 1) * blockPixels) {
                            let row = src + p * c
                            for ch in 0..<c {
                                let v = Double(row[ch])
                                s[ch] += v
                                q[ch] += v * v
                            }
                        }
                    }
                }
            }
        }
        let count = Double(pixels * perGroup)
        for g in 0..<groups {
            var s = 0.0, q = 0.0
            for blk in 0..<blocks {
                for ch in (g * perGroup)..<((g + 1) * perGroup) {
                    s += partialSum[blk * c + ch]
                    q += partialSq[blk * c + ch]
                }
            }
            let mean = s / count
            let variance = max(0, q / count - mean * mean)
            let rstd = 1 / (variance + Double(epsilon)).squareRoot()
            for ch in (g * perGroup)..<((g + 1) * perGroup) {
                let sc = Double(gamma.pointer[ch]) * rstd
                scale[ch] = Float(sc)
                shift[ch] = Float(Double(beta.pointer[ch]) - mean * sc)
            }
        }
    }
}

/// Layer normalisation over the last dimension (`[..., C]`), as in CLIP and transformer blocks.
public struct LayerNorm: Sendable {
    public let epsilon: Float
    public let gamma: Tensor
    public let beta: Tensor

    /// Throws `ShapeError` when `gamma` and `beta` differ in size.
    public init(epsilon: Float, gamma: Tensor, beta: Tensor) throws {
        guard gamma.count >= 1, beta.count == gamma.count else {
            throw ShapeError("layer norm", expected: "gamma and beta of the same size", got: [gamma.count, beta.count])
        }
        self.epsilon = epsilon
        self.gamma = gamma
        self.beta = beta
    }

    /// Normalises each row of `x` (`[..., C]`). Throws `ShapeError` for another last dimension.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let c = gamma.count
        guard x.shape.last == c else { throw ShapeError("layer norm over \(c) channels", expected: "[..., \(c)]", got: x.shape) }
        let rows = x.count / c
        let out = Tensor(uninitialized: x.shape)
        let src = x.pointer, dst = out.pointer, g = gamma.pointer, b = beta.pointer
        let eps = Double(epsilon)
        Threads.parallelFor(rows, itemCost: 3 * c) { start, end in
            for r in start..<end {
                let row = src + r * c, o = dst + r * c
                var s = 0.0
                for i in 0..<c { s += Double(row[i]) }
                let mean = s / Double(c)
                var q = 0.0
                for i in 0..<c { let d = Double(row[i]) - mean; q += d * d }
                let rstd = Float(1 / (q / Double(c) + eps).squareRoot())
                let m = Float(mean)
                for i in 0..<c { o[i] = (row[i] - m) * rstd * g[i] + b[i] }
            }
        }
        return out
    }
}

@inline(__always)
private func affineRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                       _ scale: UnsafePointer<Float>, _ shift: UnsafePointer<Float>, _ c: Int, _ silu: Bool) {
    var i = 0
    if silu {
        while i + 8 <= c {
            let v = SIMD8<Float>(UnsafeBufferPointer(start: src + i, count: 8)) * SIMD8(UnsafeBufferPointer(start: scale + i, count: 8))
                + SIMD8(UnsafeBufferPointer(start: shift + i, count: 8))
            let y = siluVector(v)
            for k in 0..<8 { dst[i + k] = y[k] }
            i += 8
        }
        while i < c { let v = src[i] * scale[i] + shift[i]; dst[i] = v / (1 + expf(-v)); i += 1 }
    } else {
        while i < c { dst[i] = src[i] * scale[i] + shift[i]; i += 1 }
    }
}
