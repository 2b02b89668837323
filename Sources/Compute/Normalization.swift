import Foundation

/// Group normalisation over channels-last activations `[N, H, W, C]`, optionally followed by
/// SiLU (the pair every ResNet block starts with). Statistics are accumulated in Double, per
/// sample, so the result does not depend on the batch.
public struct GroupNorm: Sendable {
    public let groups: Int
    public let epsilon: Float
    public let gamma: Tensor
    public let beta: Tensor

    public init(groups: Int, epsilon: Float, gamma: Tensor, beta: Tensor) {
        precondition(gamma.count % groups == 0, "group norm: \(gamma.count) channels do not split into \(groups) groups")
        self.groups = groups
        self.epsilon = epsilon
        self.gamma = gamma
        self.beta = beta
    }

    public func callAsFunction(_ x: Tensor, silu: Bool = false) -> Tensor {
        OpStatistics.shared.measure("group norm\(silu ? " + silu" : "") \(x.shape.dropFirst())") { apply(x, silu: silu) }
    }

    private func apply(_ x: Tensor, silu: Bool) -> Tensor {
        let c = x.shape[x.shape.count - 1]
        precondition(c == gamma.count, "group norm over \(gamma.count) channels got \(x.shape)")
        let n = x.shape[0]
        let pixels = x.count / n / c
        let out = Tensor(uninitialized: x.shape)
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
        return out
    }

    /// Folds mean, variance, gamma and beta into one scale and shift per channel.
    private func channelAffine(_ src: UnsafePointer<Float>, pixels: Int, channels c: Int,
                               scale: UnsafeMutablePointer<Float>, shift: UnsafeMutablePointer<Float>) {
        let perGroup = c / groups
        let threads = Threads.threads(forWork: pixels * c)
        // Per-thread partial sums per channel, reduced in a fixed order (deterministic).
        var partialSum = [Double](repeating: 0, count: threads * c)
        var partialSq = [Double](repeating: 0, count: threads * c)
        let chunk = (pixels + threads - 1) / threads
        partialSum.withUnsafeMutableBufferPointer { sums in
            partialSq.withUnsafeMutableBufferPointer { sqs in
                let sp = sums.baseAddress!, qp = sqs.baseAddress!
                // One chunk per thread (already sized by the work above).
                Threads.parallelFor(threads, itemCost: Threads.minimumWorkPerThread) { t0, t1 in
                    for t in t0..<t1 {
                        let s = sp + t * c, q = qp + t * c
                        for p in (t * chunk)..<min(pixels, (t + 1) * chunk) {
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
            for t in 0..<threads {
                for ch in (g * perGroup)..<((g + 1) * perGroup) {
                    s += partialSum[t * c + ch]
                    q += partialSq[t * c + ch]
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

    public init(epsilon: Float, gamma: Tensor, beta: Tensor) {
        self.epsilon = epsilon
        self.gamma = gamma
        self.beta = beta
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let c = gamma.count
        precondition(x.shape.last == c, "layer norm over \(c) got \(x.shape)")
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
